package dev.streamscore.test;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.jobs.ScoringJob;
import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.jobs.config.ScoringOptions;
import dev.streamscore.operators.batching.BatchingOptions;
import dev.streamscore.operators.inference.InferenceOptions;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.InjectMiniCluster;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Exactly-once across faults while transactions are in flight in the inference operator: two
 * TaskManagers of one slot each (one subtask of the whole pipeline on each), a model that takes 50
 * ms a call so that batches are always being scored, and, once the first scores are committed, one
 * fault ({@link SlowModels.Fault}): a TaskManager terminated while the test sees a model call under
 * way in each subtask, a model call that throws once, one that throws an Error once (the job
 * restores), one that hangs once. Every transaction must come out scored exactly once, and none
 * dead-lettered, for a read_committed consumer.
 */
class TaskManagerLossITCase {

    private static final int TRANSACTIONS = 3_000;

    @RegisterExtension
    static final MiniClusterExtension FLINK = SystemTestSupport.rocksDbMiniCluster(2, 1);

    @RegisterExtension static final EmbeddedKafkaExtension KAFKA = EmbeddedKafkaExtension.broker();

    @ParameterizedTest
    @EnumSource(SlowModels.Fault.class)
    void scoresEveryTransactionExactlyOnceAcross(
            SlowModels.Fault fault, @InjectMiniCluster MiniCluster cluster) throws Exception {
        SlowModels.ARMED.set(null);
        SlowModels.FAULTS_DONE.set(0);
        String run = Long.toString(System.nanoTime());
        Configuration options = new Configuration();
        options.set(ScoringOptions.BOOTSTRAP_SERVERS, KAFKA.get().bootstrapServers());
        options.set(ScoringOptions.INPUT_TOPIC, "tm-loss-transactions-" + run);
        options.set(ScoringOptions.SCORES_TOPIC, "tm-loss-scores-" + run);
        options.set(ScoringOptions.DEAD_LETTER_TOPIC, "tm-loss-dead-letters-" + run);
        options.set(ScoringOptions.GROUP_ID, "tm-loss-" + run);
        options.set(ScoringOptions.DELIVERY, DeliveryGuarantee.EXACTLY_ONCE);
        options.set(ScoringOptions.CHECKPOINT_INTERVAL, Duration.ofSeconds(1));
        options.set(ScoringOptions.RESTART_DELAY, Duration.ofSeconds(1));
        options.set(InferenceOptions.MODEL, "bundled:gbdt");
        options.set(BatchingOptions.BATCH_SIZE, 32);
        // One batch per subtask at a time: two calls under way means one in each subtask.
        options.set(BatchingOptions.MAX_IN_FLIGHT, 1);
        options.set(BatchingOptions.CACHE_TTL, Duration.ZERO);
        // The hung call (6 s) is given up after 2 s and its batch retried.
        options.set(BatchingOptions.MODEL_CALL_TIMEOUT, Duration.ofSeconds(2));
        ScoringConfig config = ScoringConfig.from(options);
        KAFKA.get().createTopics(config.topicPartitions(2));

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        SlowModels.DELAY_MILLIS = 50;
        ScoringJob.buildKafkaJob(env, config, SlowModels.STAGE);
        JobClient job = env.executeAsync("task manager loss " + run);

        try (ExactlyOnceLedger ledger =
                ExactlyOnceLedger.start(KAFKA.get().bootstrapServers(), config, TRANSACTIONS, 31)) {
            try {
                // A checkpoint has committed scores: there is state to restore from.
                ledger.readUntil(1, Duration.ofSeconds(120));
                int committed = ledger.committed();
                if (fault == SlowModels.Fault.TASK_MANAGER_LOSS) {
                    int underWayAtKill = awaitCallsUnderWay(2, Duration.ofSeconds(60));
                    int sentAtKill = ledger.sent();
                    cluster.terminateTaskManager(0).get(60, TimeUnit.SECONDS);
                    cluster.startTaskManager();
                    System.out.printf(
                            "terminated TaskManager 0 with %d model calls under way, %d of %d"
                                    + " sent, %d scores committed%n",
                            underWayAtKill, sentAtKill, TRANSACTIONS, committed);
                    assertThat(underWayAtKill)
                            .as("model calls under way at the kill")
                            .isGreaterThanOrEqualTo(2);
                    assertThat(sentAtKill)
                            .as("transactions still to come after the kill")
                            .isLessThan(TRANSACTIONS);
                } else {
                    SlowModels.ARMED.set(fault);
                    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                    while (SlowModels.FAULTS_DONE.get() == 0 && System.nanoTime() < deadline) {
                        Thread.sleep(1);
                    }
                    System.out.printf(
                            "%s with %d of %d sent, %d scores committed%n",
                            fault, ledger.sent(), TRANSACTIONS, committed);
                    assertThat(SlowModels.FAULTS_DONE.get()).as("faults injected").isEqualTo(1);
                    assertThat(ledger.sent())
                            .as("transactions still to come")
                            .isLessThan(TRANSACTIONS);
                }
                ledger.readAll(Duration.ofSeconds(180));
            } finally {
                JobStatus status = job.getJobStatus().get(10, TimeUnit.SECONDS);
                job.cancel().get(30, TimeUnit.SECONDS);
                assertThat(status).isEqualTo(JobStatus.RUNNING);
            }
            ledger.assertEachScoredExactlyOnce();
        }
    }

    private static int awaitCallsUnderWay(int calls, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            int now = SlowModels.CALLS_UNDER_WAY.get();
            if (now >= calls) {
                return now;
            }
            Thread.sleep(1);
        }
        return SlowModels.CALLS_UNDER_WAY.get();
    }
}
