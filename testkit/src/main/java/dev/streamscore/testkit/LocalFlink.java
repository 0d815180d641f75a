package dev.streamscore.testkit;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/**
 * A local Flink MiniCluster for {@code ./streamscore run} and {@code demo}, configured from the
 * same {@code config.yaml} a cluster uses ({@code deploy/flink/}, or {@code $FLINK_CONF_DIR}), so
 * local runs have the RocksDB state backend and checkpointing the cluster has.
 */
public final class LocalFlink {

    private LocalFlink() {}

    public static StreamExecutionEnvironment environment(Configuration jobOptions)
            throws Exception {
        Configuration conf = new Configuration();
        String confDir = System.getenv("FLINK_CONF_DIR");
        if (confDir == null && new File("deploy/flink/config.yaml").isFile()) {
            confDir = "deploy/flink";
        }
        if (confDir != null) {
            conf.addAll(GlobalConfiguration.loadConfiguration(confDir));
        }
        conf.addAll(jobOptions);
        if (!conf.contains(StateBackendOptions.STATE_BACKEND)) {
            conf.set(StateBackendOptions.STATE_BACKEND, "rocksdb");
        }
        if (!conf.contains(CheckpointingOptions.CHECKPOINTS_DIRECTORY)) {
            Path dir = Files.createTempDirectory("streamscore-checkpoints-");
            dir.toFile().deleteOnExit();
            conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, dir.toUri().toString());
        }
        return StreamExecutionEnvironment.getExecutionEnvironment(conf);
    }
}
