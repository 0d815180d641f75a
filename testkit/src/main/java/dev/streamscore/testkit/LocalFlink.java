package dev.streamscore.testkit;

import java.io.File;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.configuration.RestOptions;
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
        if (!conf.contains(RestOptions.BIND_PORT)) {
            // A known port (Flink would pick a random one and not say which), so that the
            // commands can read the job's failures from the REST API: restUrl(env).
            conf.set(RestOptions.BIND_PORT, Integer.toString(freePort()));
        }
        conf.set(RestOptions.ADDRESS, "127.0.0.1");
        return StreamExecutionEnvironment.getExecutionEnvironment(conf);
    }

    /**
     * Where the MiniCluster of an environment from {@link #environment} serves Flink's REST API.
     */
    public static URI restUrl(StreamExecutionEnvironment env) {
        String port = env.getConfiguration().get(RestOptions.BIND_PORT);
        return URI.create("http://127.0.0.1:" + port.split("-")[0].trim() + "/");
    }

    private static int freePort() throws java.io.IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
