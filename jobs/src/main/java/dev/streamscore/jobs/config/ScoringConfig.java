package dev.streamscore.jobs.config;

import static dev.streamscore.jobs.config.ScoringOptions.*;

import dev.streamscore.operators.inference.InferenceSettings;
import dev.streamscore.operators.serde.TransactionDecoder;
import java.io.Serializable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.configuration.ConfigOption;
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
        String controlTopic,
        String modelStatusTopic,
        String challengerScoresTopic,
        String groupId,
        int maxRecordBytes,
        Duration maxClockSkew,
        InferenceSettings inference,
        String challengerModel,
        Duration cardHistoryTtl,
        Duration dedupWindow,
        int cardStateFront,
        Duration cardStateWriteDelay,
        int parallelism,
        DeliveryGuarantee delivery,
        Duration checkpointInterval,
        Duration checkpointTimeout,
        String transactionalIdPrefix,
        Duration transactionTimeout,
        int maxFailures,
        Duration failureInterval,
        Duration restartDelay,
        String featureLogTopic,
        String labelsTopic,
        String qualityTopic,
        Duration labelHorizon,
        int qualityWindow,
        Duration qualityInterval)
        implements Serializable {

    public ScoringConfig {
        if (kafka == null) {
            kafka = KafkaClientSettings.NONE;
        }
        kafka.check(delivery);
        if (maxRecordBytes < 1 || maxRecordBytes > TransactionDecoder.MAX_RECORD_BYTES_LIMIT) {
            throw new IllegalArgumentException(
                    "max-record-bytes must be 1.."
                            + TransactionDecoder.MAX_RECORD_BYTES_LIMIT
                            + ", got "
                            + maxRecordBytes);
        }
        if (maxClockSkew.isNegative()) {
            throw new IllegalArgumentException(
                    "max-clock-skew must be zero or positive, got " + maxClockSkew);
        }
        if (dedupWindow != null
                && cardHistoryTtl != null
                && dedupWindow.compareTo(cardHistoryTtl) > 0) {
            throw new IllegalArgumentException(
                    "dedup-window must not be longer than card-history-ttl (a card's remembered"
                            + " transaction ids expire with its history), got "
                            + dedupWindow
                            + " and "
                            + cardHistoryTtl);
        }
        if (cardStateFront < 0) {
            throw new IllegalArgumentException(
                    "card-state-front must be 0 (off) or more cards, got " + cardStateFront);
        }
        if (cardStateWriteDelay.isNegative()) {
            throw new IllegalArgumentException(
                    "card-state-write-delay must be zero (write every change at once) or"
                            + " positive, got "
                            + cardStateWriteDelay);
        }
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
        if (checkpointTimeout.toMillis() < 10) {
            throw new IllegalArgumentException(
                    "checkpoint-timeout must be at least 10 ms, got " + checkpointTimeout);
        }
        if (delivery == DeliveryGuarantee.EXACTLY_ONCE
                && transactionTimeout.compareTo(checkpointInterval.plus(checkpointTimeout)) <= 0) {
            // A transaction stays open from one checkpoint to the next one's completion; if
            // Kafka aborts it first, the scores it held are lost.
            throw new IllegalArgumentException(
                    "transaction-timeout must be above checkpoint-interval plus"
                            + " checkpoint-timeout for exactly-once, or Kafka may abort a"
                            + " transaction before its checkpoint commits it; got "
                            + transactionTimeout
                            + " with checkpoint-interval "
                            + checkpointInterval
                            + " and checkpoint-timeout "
                            + checkpointTimeout);
        }
        if (transactionalIdPrefix == null || transactionalIdPrefix.isBlank()) {
            throw new IllegalArgumentException("transactional-id-prefix must not be empty");
        }
        if (maxFailures < 0) {
            throw new IllegalArgumentException(
                    "max-failures must be zero (never restart) or positive, got " + maxFailures);
        }
        if (failureInterval.isNegative() || failureInterval.isZero()) {
            throw new IllegalArgumentException(
                    "failure-interval must be positive, got " + failureInterval);
        }
        if (restartDelay.isNegative()) {
            throw new IllegalArgumentException(
                    "restart-delay must be zero or positive, got " + restartDelay);
        }
        if (labelHorizon.isNegative() || labelHorizon.isZero()) {
            throw new IllegalArgumentException(
                    "label-horizon must be positive, got " + labelHorizon);
        }
        if (qualityWindow < 1) {
            throw new IllegalArgumentException(
                    "quality-window must be at least 1 labelled transaction, got " + qualityWindow);
        }
        if (qualityInterval.toMillis() < 1) {
            throw new IllegalArgumentException(
                    "quality-interval must be at least 1 ms, got " + qualityInterval);
        }
        if (labelsTopic != null && (qualityTopic == null || qualityTopic.isBlank())) {
            throw new IllegalArgumentException(
                    "quality-topic must be set when labels-topic is, found an empty name");
        }
        for (String[] topic :
                new String[][] {
                    {"transactions-topic", transactionsTopic},
                    {"scores-topic", scoresTopic},
                    {"dead-letter-topic", deadLetterTopic},
                    {"model-status-topic", modelStatusTopic},
                    {"challenger-scores-topic", challengerScoresTopic}
                }) {
            if (topic[1] == null || topic[1].isBlank()) {
                throw new IllegalArgumentException(topic[0] + " must be set, found an empty name");
            }
        }
    }

    /** Whether scores are logged with their features to the feature log topic. */
    public boolean featureLog() {
        return featureLogTopic != null;
    }

    /** Whether labels are read and joined with scores to measure live quality. */
    public boolean labels() {
        return labelsTopic != null;
    }

    /** Whether models change through the control topic (else only by restart). */
    public boolean modelControl() {
        return controlTopic != null && !controlTopic.isEmpty();
    }

    /**
     * Every topic the job reads or writes, with its partition count for a test or demo that creates
     * them: {@code dataPartitions} each, but the control topic, which has one so that every subtask
     * applies the commands in the order they were written.
     */
    public Map<String, Integer> topicPartitions(int dataPartitions) {
        Map<String, Integer> topics = new LinkedHashMap<>();
        for (String topic : topics()) {
            topics.put(topic, topic.equals(controlTopic) ? 1 : dataPartitions);
        }
        return topics;
    }

    /** Every topic the job reads or writes: the data topics, then the control topic if any. */
    public List<String> topics() {
        List<String> topics =
                new ArrayList<>(
                        List.of(
                                transactionsTopic,
                                scoresTopic,
                                deadLetterTopic,
                                modelStatusTopic,
                                challengerScoresTopic));
        if (featureLog()) {
            topics.add(featureLogTopic);
        }
        if (labels()) {
            topics.add(labelsTopic);
            topics.add(qualityTopic);
        }
        if (modelControl()) {
            topics.add(controlTopic);
        }
        return List.copyOf(topics);
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
                conf.get(CONTROL_TOPIC).trim(),
                conf.get(MODEL_STATUS_TOPIC),
                conf.get(CHALLENGER_SCORES_TOPIC),
                conf.get(GROUP_ID),
                conf.get(MAX_RECORD_BYTES),
                conf.get(MAX_CLOCK_SKEW),
                InferenceSettings.from(conf),
                conf.getOptional(CHALLENGER_MODEL).filter(m -> !m.isBlank()).orElse(null),
                conf.get(CARD_HISTORY_TTL),
                conf.get(DEDUP_WINDOW),
                conf.get(CARD_STATE_FRONT),
                conf.get(CARD_STATE_WRITE_DELAY),
                conf.get(PARALLELISM),
                conf.get(DELIVERY),
                conf.get(CHECKPOINT_INTERVAL),
                conf.get(CHECKPOINT_TIMEOUT),
                conf.getOptional(TRANSACTIONAL_ID_PREFIX)
                        .orElseGet(() -> defaultTransactionalIdPrefix(conf, kafka)),
                conf.get(TRANSACTION_TIMEOUT),
                conf.get(MAX_FAILURES),
                conf.get(FAILURE_INTERVAL),
                conf.get(RESTART_DELAY),
                optionalTopic(conf, FEATURE_LOG_TOPIC),
                optionalTopic(conf, LABELS_TOPIC),
                conf.get(QUALITY_TOPIC),
                conf.get(LABEL_HORIZON),
                conf.get(QUALITY_WINDOW),
                conf.get(QUALITY_INTERVAL));
    }

    /** An optional topic: unset or blank is none. */
    private static String optionalTopic(ReadableConfig conf, ConfigOption<String> option) {
        return conf.getOptional(option).map(String::trim).filter(t -> !t.isEmpty()).orElse(null);
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

    /**
     * {@code streamscore-<group-id>-<hash>}, the hash over the servers and the three topics: the
     * same for every run of one application (so that a restarted job aborts what its predecessor
     * left open), different for jobs on other topics, groups or clusters (so that they never fence
     * each other's producers).
     */
    static String defaultTransactionalIdPrefix(ReadableConfig conf, KafkaClientSettings kafka) {
        String identity =
                String.join(
                        "\n",
                        bootstrapServers(conf, kafka),
                        conf.get(TRANSACTIONS_TOPIC),
                        conf.get(SCORES_TOPIC),
                        conf.get(DEAD_LETTER_TOPIC));
        try {
            byte[] hash =
                    java.security.MessageDigest.getInstance("SHA-256")
                            .digest(identity.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return "streamscore-"
                    + conf.get(GROUP_ID)
                    + "-"
                    + java.util.HexFormat.of().formatHex(hash, 0, 4);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }

    /** The defaults of every option. */
    public static ScoringConfig defaults() {
        return from(new Configuration());
    }
}
