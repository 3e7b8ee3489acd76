package dev.squall.druid.postgresql;

import com.google.common.base.Supplier;
import com.google.common.base.Throwables;
import com.google.inject.Inject;
import java.sql.DatabaseMetaData;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Locale;
import org.apache.commons.dbcp2.BasicDataSource;
import org.apache.druid.java.util.common.logger.Logger;
import org.apache.druid.metadata.MetadataCASUpdate;
import org.apache.druid.metadata.MetadataStorageConnectorConfig;
import org.apache.druid.metadata.MetadataStorageTablesConfig;
import org.apache.druid.metadata.SQLMetadataConnector;
import org.apache.druid.segment.metadata.CentralizedDatasourceSchemaConfig;
import org.skife.jdbi.v2.DBI;
import org.skife.jdbi.v2.Handle;
import org.skife.jdbi.v2.exceptions.CallbackFailedException;

/**
 * Druid's metadata tables in PostgreSQL (9.5 or newer: upserts use ON CONFLICT).
 *
 * <p>Connection settings are Druid's usual {@code druid.metadata.storage.connector.*}
 * (connectURI {@code jdbc:postgresql://host:5432/db}, user, password or a password
 * provider). Tables live in the connection's default schema ({@code public}).
 */
public class PostgreSQLConnector extends SQLMetadataConnector
{
  private static final Logger log = new Logger(PostgreSQLConnector.class);

  /** SQLSTATE classes worth a retry: connection exceptions (08), insufficient resources (53). */
  private static final List<String> TRANSIENT_STATE_CLASSES = List.of("08", "53");

  /** SQLSTATE of a REPEATABLE READ transaction that lost to a concurrent update. */
  private static final String SERIALIZATION_FAILURE = "40001";

  private final DBI dbi;

  @Inject
  public PostgreSQLConnector(
      Supplier<MetadataStorageConnectorConfig> config,
      Supplier<MetadataStorageTablesConfig> tables,
      CentralizedDatasourceSchemaConfig schemaConfig
  )
  {
    super(config, tables, schemaConfig);
    final BasicDataSource source = getDatasource();
    // the driver sits in this extension's class loader, which DriverManager does not search
    source.setDriverClassLoader(getClass().getClassLoader());
    source.setDriverClassName("org.postgresql.Driver");
    this.dbi = new DBI(source);
    log.info("Metadata storage: PostgreSQL at %s", config.get().getConnectURI());
  }

  @Override
  public String getPayloadType()
  {
    return "BYTEA";
  }

  @Override
  public String getSerialType()
  {
    return "BIGSERIAL";
  }

  @Override
  public String getQuoteString()
  {
    return "\\\"";
  }

  @Override
  public int getStreamingFetchSize()
  {
    return 100;
  }

  @Override
  public String limitClause(int limit)
  {
    return String.format(Locale.ROOT, "LIMIT %d", limit);
  }

  @Override
  public DBI getDBI()
  {
    return dbi;
  }

  @Override
  public boolean tableExists(Handle handle, String tableName)
  {
    return !handle
        .createQuery(
            "SELECT 1 FROM pg_catalog.pg_tables"
            + " WHERE schemaname = current_schema() AND tablename = :name"
        )
        .bind("name", tableName.toLowerCase(Locale.ROOT))
        .list()
        .isEmpty();
  }

  @Override
  public Void insertOrUpdate(
      String tableName,
      String keyColumn,
      String valueColumn,
      String key,
      byte[] value
  )
  {
    final String sql = String.format(
        Locale.ROOT,
        "INSERT INTO %1$s (%2$s, %3$s) VALUES (:key, :value)"
        + " ON CONFLICT (%2$s) DO UPDATE SET %3$s = EXCLUDED.%3$s",
        tableName,
        keyColumn,
        valueColumn
    );
    return getDBI().withHandle(handle -> {
      handle.createStatement(sql).bind("key", key).bind("value", value).execute();
      return null;
    });
  }

  /** A transaction that lost a race is a failed swap (the caller retries), not an error. */
  @Override
  public boolean compareAndSwap(List<MetadataCASUpdate> updates)
  {
    try {
      return super.compareAndSwap(updates);
    }
    catch (CallbackFailedException e) {
      final Throwable root = Throwables.getRootCause(e);
      if (root instanceof SQLException && SERIALIZATION_FAILURE.equals(((SQLException) root).getSQLState())) {
        return false;
      }
      throw e;
    }
  }

  @Override
  protected boolean connectorIsTransientException(Throwable e)
  {
    if (!(e instanceof SQLException)) {
      return false;
    }
    final String state = ((SQLException) e).getSQLState();
    return state != null && state.length() >= 2 && TRANSIENT_STATE_CLASSES.contains(state.substring(0, 2));
  }

  /** PostgreSQL folds unquoted names to lower case; JDBC metadata lookups match exactly. */
  @Override
  protected boolean tableHasColumn(String tableName, String columnName)
  {
    return super.tableHasColumn(tableName.toLowerCase(Locale.ROOT), columnName);
  }

  @Override
  public ResultSet getIndexInfo(DatabaseMetaData metaData, String tableName) throws SQLException
  {
    return super.getIndexInfo(metaData, tableName.toLowerCase(Locale.ROOT));
  }
}
