package dev.streamscore.jobs.config;

import static dev.streamscore.jobs.config.ScoringOptions.*;

import dev.streamscore.models.OnnxOptions;
import dev.streamscore.operators.inference.InferenceSettings;
import java.io.Serializable;
import java.time.Duration;
import org.apache.flink.configuration.Configuration;

/**
 * The job's options, read once from a Flink {@link Configuration} (see {@link ScoringOptions} for
 * each one's meaning and default) and checked at the boundary.
 */
public record ScoringConfig(
        String bootstrapServers,
        String transactionsTopic,
        String scoresTopic,
        String deadLetterTopic,
        String groupId,
        InferenceSettings inference,
        Duration cardHistoryTtl,
        Duration dedupWindow,
        int parallelism,
        ScoringOptions.DeliveryGuarantee delivery,
        Duration checkpointInterval,
        String transactionalIdPrefix,
        Duration transactionTimeout)
        implements Serializable {

    public ScoringConfig {
        if (parallelism < 1) {
            throw new IllegalArgumentException(
                    "parallelism must be at least 1, got " + parallelism);
        }
        if (checkpointInterval.toMillis() < 10) {
            throw new IllegalArgumentException(
                    "checkpoint-interval must be at least 10 ms, got " + checkpointInterval);
        }
        if (delivery == ScoringOptions.DeliveryGuarantee.EXACTLY_ONCE
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

    public static ScoringConfig from(Configuration conf) {
        return new ScoringConfig(
                conf.get(BOOTSTRAP_SERVERS),
                conf.get(TRANSACTIONS_TOPIC),
                conf.get(SCORES_TOPIC),
                conf.get(DEAD_LETTER_TOPIC),
                conf.get(GROUP_ID),
                new InferenceSettings(
                                conf.get(MODEL),
                                OnnxOptions.DEFAULT
                                        .withThreads(
                                                conf.get(INTRA_OP_THREADS),
                                                conf.get(INTER_OP_THREADS))
                                        .withExecutionProvider(
                                                conf.get(EXECUTION_PROVIDER), conf.get(GPU_DEVICE))
                                        .withPadToSizes(conf.get(PAD_TO_SIZES))
                                        .withProfilePrefix(
                                                conf.getOptional(ORT_PROFILE).orElse(null)),
                                conf.get(BATCH_SIZE),
                                conf.get(MAX_WAIT),
                                conf.get(MAX_IN_FLIGHT),
                                conf.get(CACHE_TTL))
                        .withOutputMode(conf.get(OUTPUT_MODE))
                        .withLatencyTarget(conf.get(LATENCY_TARGET))
                        .withModelCallTimeout(conf.get(MODEL_CALL_TIMEOUT))
                        .withMaxRetries(conf.get(MAX_RETRIES))
                        .withInitialBackoff(conf.get(RETRY_BACKOFF))
                        .withFallbackScore(conf.getOptional(FALLBACK_SCORE).orElse(null)),
                conf.get(CARD_HISTORY_TTL),
                conf.get(DEDUP_WINDOW),
                conf.get(PARALLELISM),
                conf.get(DELIVERY),
                conf.get(CHECKPOINT_INTERVAL),
                conf.get(TRANSACTIONAL_ID_PREFIX),
                conf.get(TRANSACTION_TIMEOUT));
    }

    /** The defaults of every option. */
    public static ScoringConfig defaults() {
        return from(new Configuration());
    }
}
