package dev.streamscore.test;

import dev.streamscore.models.OnnxModel;
import dev.streamscore.models.OnnxOptions;
import dev.streamscore.schemas.Transaction;
import dev.streamscore.testkit.FeatureRows;
import java.util.List;
import java.util.function.Consumer;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.test.junit5.MiniClusterExtension;

/**
 * What the system tests share beyond the testkit: the MiniCluster they run the job on, and the
 * independent reference scores.
 */
final class SystemTestSupport {

    private SystemTestSupport() {}

    /** A MiniCluster with the RocksDB state backend, as the job runs in production. */
    static MiniClusterExtension rocksDbMiniCluster(int taskManagers, int slotsPerTaskManager) {
        return rocksDbMiniCluster(taskManagers, slotsPerTaskManager, conf -> {});
    }

    /** As above, with more of Flink's settings. */
    static MiniClusterExtension rocksDbMiniCluster(
            int taskManagers, int slotsPerTaskManager, Consumer<Configuration> settings) {
        Configuration conf = new Configuration();
        conf.set(StateBackendOptions.STATE_BACKEND, "rocksdb");
        settings.accept(conf);
        return new MiniClusterExtension(
                new MiniClusterResourceConfiguration.Builder()
                        .setConfiguration(conf)
                        .setNumberTaskManagers(taskManagers)
                        .setNumberSlotsPerTaskManager(slotsPerTaskManager)
                        .build());
    }

    /**
     * The model's score of each transaction with features computed here, independently of any job,
     * from each card's transactions in the given order.
     */
    static float[] referenceScores(List<Transaction> transactions, String model) throws Exception {
        float[][] rows = FeatureRows.of(transactions);
        try (OnnxModel onnx = OnnxModel.open(model, OnnxOptions.DEFAULT)) {
            return onnx.score(rows);
        }
    }
}
