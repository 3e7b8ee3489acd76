package dev.squall.druid.postgresql;

import com.fasterxml.jackson.databind.Module;
import com.google.inject.Binder;
import com.google.inject.Key;
import java.util.List;
import org.apache.druid.guice.LazySingleton;
import org.apache.druid.guice.PolyBind;
import org.apache.druid.guice.SQLMetadataStorageDruidModule;
import org.apache.druid.initialization.DruidModule;
import org.apache.druid.metadata.MetadataStorageActionHandlerFactory;
import org.apache.druid.metadata.MetadataStorageConnector;
import org.apache.druid.metadata.MetadataStorageProvider;
import org.apache.druid.metadata.NoopMetadataStorageProvider;
import org.apache.druid.metadata.SQLMetadataConnector;

/**
 * Registers metadata storage type {@value #TYPE}: Druid picks these bindings when
 * {@code druid.metadata.storage.type=postgresql}. The generic SQL managers (segments,
 * rules, supervisors, ...) come from {@link SQLMetadataStorageDruidModule}; only the
 * connector and the task tables' handler are PostgreSQL's own. The database runs
 * elsewhere (the compose stack's postgres service), so its provider is a no-op, unlike
 * Derby's, which starts a server inside the coordinator.
 */
public class PostgreSQLMetadataModule extends SQLMetadataStorageDruidModule implements DruidModule
{
  public static final String TYPE = "postgresql";

  public PostgreSQLMetadataModule()
  {
    super(TYPE);
  }

  @Override
  public List<? extends Module> getJacksonModules()
  {
    return List.of();
  }

  @Override
  public void configure(Binder binder)
  {
    super.configure(binder);
    // one connector (and one connection pool) behind both of its keys below
    binder.bind(PostgreSQLConnector.class).in(LazySingleton.class);
    PolyBind.optionBinder(binder, Key.get(MetadataStorageProvider.class))
            .addBinding(TYPE)
            .to(NoopMetadataStorageProvider.class)
            .in(LazySingleton.class);
    PolyBind.optionBinder(binder, Key.get(MetadataStorageConnector.class))
            .addBinding(TYPE)
            .to(PostgreSQLConnector.class)
            .in(LazySingleton.class);
    PolyBind.optionBinder(binder, Key.get(SQLMetadataConnector.class))
            .addBinding(TYPE)
            .to(PostgreSQLConnector.class)
            .in(LazySingleton.class);
    PolyBind.optionBinder(binder, Key.get(MetadataStorageActionHandlerFactory.class))
            .addBinding(TYPE)
            .to(PostgreSQLActionHandlerFactory.class)
            .in(LazySingleton.class);
  }
}
