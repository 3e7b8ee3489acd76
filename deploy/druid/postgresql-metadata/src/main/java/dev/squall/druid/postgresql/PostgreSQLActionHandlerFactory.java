package dev.squall.druid.postgresql;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.inject.Inject;
import org.apache.druid.metadata.MetadataStorageActionHandler;
import org.apache.druid.metadata.MetadataStorageActionHandlerTypes;
import org.apache.druid.metadata.MetadataStorageTablesConfig;
import org.apache.druid.metadata.SQLMetadataConnector;
import org.apache.druid.metadata.SQLMetadataStorageActionHandler;
import org.apache.druid.metadata.SQLMetadataStorageActionHandlerFactory;

/**
 * The overlord's task tables (entries, logs, locks) on PostgreSQL: Druid's generic SQL
 * handler, with the one dialect difference it leaves open, how a query is limited.
 */
public class PostgreSQLActionHandlerFactory extends SQLMetadataStorageActionHandlerFactory
{
  @Inject
  public PostgreSQLActionHandlerFactory(
      SQLMetadataConnector connector,
      MetadataStorageTablesConfig config,
      ObjectMapper jsonMapper
  )
  {
    super(connector, config, jsonMapper);
  }

  @Override
  public <A, B, C, D> MetadataStorageActionHandler<A, B, C, D> create(
      String entryType,
      MetadataStorageActionHandlerTypes<A, B, C, D> types
  )
  {
    return new SQLMetadataStorageActionHandler<A, B, C, D>(
        connector,
        jsonMapper,
        types,
        entryType,
        config.getEntryTable(entryType),
        config.getLogTable(entryType),
        config.getLockTable(entryType)
    )
    {
      @Override
      protected String decorateSqlWithLimit(String sql)
      {
        return sql + " LIMIT :n";
      }
    };
  }
}
