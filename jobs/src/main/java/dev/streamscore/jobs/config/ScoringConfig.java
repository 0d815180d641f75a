package dev.streamscore.jobs.config;

import static dev.streamscore.jobs.config.ScoringOptions.*;

import dev.streamscore.operators.inference.InferenceSettings;
import java.io.Serializable;
import java.time.Duration;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.connector.base.DeliveryGuarantee;

/**
 * The job's options, read once from a Flink {@link Configuration} (see {@link ScoringOptions} for
 * each one's meaning and default) and checked at the boundary.
 */
public record ScoringConfig(
        String bootstrapServers,
        KafkaClientSettings kafka,
        String transactionsTopic,
        String scoresTopic,
        String deadLetterTopic,
        String groupId,
        InferenceSettings inference,
        Duration cardHistoryTtl,
        Duration dedupWindow,
        int parallelism,
        DeliveryGuarantee delivery,
        Duration checkpointInterval,
        String transactionalIdPrefix,
        Duration transactionTimeout)
        implements Serializable {

    public ScoringConfig {
        if (kafka == null) {
            kafka = KafkaClientSettings.NONE;
        }
        kafka.check(delivery);
        if (parallelism < 1) {
            throw new IllegalArgumentException(
                    "parallelism must be at least 1, got " + parallelism);
        }
        if (checkpointInterval.toMillis() < 10) {
            throw new IllegalArgumentException(
                    "checkpoint-interval must be at least 10 ms, got " + checkpointInterval);
        }
        if (delivery != DeliveryGuarantee.AT_LEAST_ONCE
                && delivery != DeliveryGuarantee.EXACTLY_ONCE) {
            throw new IllegalArgumentException(
                    "delivery must be at-least-once or exactly-once (with none, the Kafka sinks"
                            + " would drop scores on a failure), got "
                            + delivery);
        }
        if (delivery == DeliveryGuarantee.EXACTLY_ONCE
                && transactionTimeout.compareTo(checkpointInterval.multipliedBy(2)) <= 0) {
            throw new IllegalArgumentException(
                    "transaction-timeout must be well above checkpoint-interval for exactly-once,"
                            + " got "
                            + transactionTimeout
                            + " with checkpoint-interval "
                            + checkpointInterval);
        }
        for (String[] topic :
                new String[][] {
                    {"transactions-topic", transactionsTopic},
                    {"scores-topic", scoresTopic},
                    {"dead-letter-topic", deadLetterTopic}
                }) {
            if (topic[1] == null || topic[1].isBlank()) {
                throw new IllegalArgumentException(topic[0] + " must be set, found an empty name");
            }
        }
    }

    /** The options {@code conf} gives, each one not set there at its default. */
    public static ScoringConfig from(ReadableConfig conf) {
        KafkaClientSettings kafka = KafkaClientSettings.from(conf);
        return new ScoringConfig(
                bootstrapServers(conf, kafka),
                kafka,
                conf.get(TRANSACTIONS_TOPIC),
                conf.get(SCORES_TOPIC),
                conf.get(DEAD_LETTER_TOPIC),
                conf.get(GROUP_ID),
                InferenceSettings.from(conf),
                conf.get(CARD_HISTORY_TTL),
                conf.get(DEDUP_WINDOW),
                conf.get(PARALLELISM),
                conf.get(DELIVERY),
                conf.get(CHECKPOINT_INTERVAL),
                conf.get(TRANSACTIONAL_ID_PREFIX),
                conf.get(TRANSACTION_TIMEOUT));
    }

    /**
     * {@code --bootstrap-servers}, or the client settings' {@code bootstrap.servers} when the flag
     * is not given; both given and different is a mistake.
     */
    private static String bootstrapServers(ReadableConfig conf, KafkaClientSettings kafka) {
        String fromSettings = kafka.bootstrapServers();
        if (fromSettings == null) {
            return conf.get(BOOTSTRAP_SERVERS);
        }
        String flag = conf.getOptional(BOOTSTRAP_SERVERS).orElse(null);
        if (flag != null && !flag.trim().equals(fromSettings.trim())) {
            throw new IllegalArgumentException(
                    "bootstrap-servers is "
                            + flag
                            + " but the Kafka client settings give bootstrap.servers="
                            + fromSettings
                            + "; give one of them");
        }
        return fromSettings.trim();
    }

    /** The defaults of every option. */
    public static ScoringConfig defaults() {
        return from(new Configuration());
    }
}
