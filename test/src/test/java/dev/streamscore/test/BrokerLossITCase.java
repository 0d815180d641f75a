package dev.streamscore.test;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.jobs.ScoringJob;
import dev.streamscore.jobs.config.ScoringConfig;
import dev.streamscore.jobs.config.ScoringOptions;
import dev.streamscore.operators.inference.InferenceOptions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Exactly-once across the loss of a broker: a three-broker in-process Kafka cluster (replication
 * factor 3, {@code min.insync.replicas} 2, internal topics likewise), the job on its defaults for
 * producers ({@code acks=all}, idempotence), and, once the first scores are committed, the broker
 * that leads the scores topic's first partition shut down for good while transactions flow. Every
 * transaction must come out scored exactly once for a read_committed consumer.
 */
class BrokerLossITCase {

    private static final int TRANSACTIONS = 3_000;

    @RegisterExtension
    static final MiniClusterExtension FLINK = SystemTestSupport.rocksDbMiniCluster(1, 2);

    @RegisterExtension
    static final EmbeddedKafkaExtension KAFKA = EmbeddedKafkaExtension.cluster(3);

    @Test
    void scoresEveryTransactionExactlyOnceAcrossTheLossOfOneBrokerOfThree() throws Exception {
        Configuration options = new Configuration();
        options.set(ScoringOptions.BOOTSTRAP_SERVERS, KAFKA.get().bootstrapServers());
        options.set(ScoringOptions.DELIVERY, DeliveryGuarantee.EXACTLY_ONCE);
        options.set(ScoringOptions.CHECKPOINT_INTERVAL, Duration.ofSeconds(1));
        options.set(ScoringOptions.RESTART_DELAY, Duration.ofSeconds(1));
        options.set(InferenceOptions.MODEL, "bundled:gbdt");
        ScoringConfig config = ScoringConfig.from(options);
        KAFKA.get().createTopics(config.topicPartitions(2));

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        ScoringJob.buildKafkaJob(env, config);
        JobClient job = env.executeAsync("broker loss");

        try (ExactlyOnceLedger ledger =
                ExactlyOnceLedger.start(KAFKA.get().bootstrapServers(), config, TRANSACTIONS, 41)) {
            try {
                ledger.readUntil(1, Duration.ofSeconds(120));
                int victim = leaderOf(config.scoresTopic());
                int sentAtLoss = ledger.sent();
                KAFKA.get().stopBroker(victim);
                System.out.printf(
                        "stopped broker %d (leader of %s-0) with %d of %d sent, %d scores"
                                + " committed%n",
                        victim, config.scoresTopic(), sentAtLoss, TRANSACTIONS, ledger.committed());
                assertThat(sentAtLoss).as("transactions still to come").isLessThan(TRANSACTIONS);
                ledger.readAll(Duration.ofSeconds(240));
            } finally {
                JobStatus status = job.getJobStatus().get(10, TimeUnit.SECONDS);
                job.cancel().get(30, TimeUnit.SECONDS);
                assertThat(status).isEqualTo(JobStatus.RUNNING);
            }
            ledger.assertEachScoredExactlyOnce();
        }
    }

    private static int leaderOf(String topic) throws Exception {
        try (Admin admin =
                Admin.create(
                        Map.of(
                                AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
                                KAFKA.get().bootstrapServers()))) {
            return admin.describeTopics(List.of(topic))
                    .allTopicNames()
                    .get(30, TimeUnit.SECONDS)
                    .get(topic)
                    .partitions()
                    .get(0)
                    .leader()
                    .id();
        }
    }
}
