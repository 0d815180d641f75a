package dev.streamscore.jobs.config;

import static dev.streamscore.jobs.config.ScoringOptions.*;

import dev.streamscore.operators.inference.InferenceOptions;
import dev.streamscore.operators.inference.InferenceSettings;
import dev.streamscore.operators.serde.EventDecoder;
import dev.streamscore.pipeline.Pipeline;
import dev.streamscore.pipeline.PipelineDefinition;
import dev.streamscore.pipeline.PipelineException;
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
        PipelineDefinition pipeline,
        List<String> features,
        String inputTopic,
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
        Duration stateTtl,
        int maxEventsPerKey,
        Duration dedupWindow,
        int stateFront,
        Duration stateWriteDelay,
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
        if (maxRecordBytes < 1 || maxRecordBytes > EventDecoder.MAX_RECORD_BYTES_LIMIT) {
            throw new IllegalArgumentException(
                    "max-record-bytes must be 1.."
                            + EventDecoder.MAX_RECORD_BYTES_LIMIT
                            + ", got "
                            + maxRecordBytes);
        }
        if (maxClockSkew.isNegative()) {
            throw new IllegalArgumentException(
                    "max-clock-skew must be zero or positive, got " + maxClockSkew);
        }
        if (pipeline == null) {
            throw new IllegalArgumentException("a pipeline must be given, found none");
        }
        features = List.copyOf(features);
        if (dedupWindow != null && stateTtl != null && dedupWindow.compareTo(stateTtl) > 0) {
            throw new IllegalArgumentException(
                    "dedup-window must not be longer than state-ttl (a key's remembered"
                            + " event ids expire with its state), got "
                            + dedupWindow
                            + " and "
                            + stateTtl);
        }
        if (stateTtl == null || stateTtl.isNegative() || stateTtl.isZero()) {
            throw new IllegalArgumentException("state-ttl must be positive, got " + stateTtl);
        }
        if (maxEventsPerKey < 1) {
            throw new IllegalArgumentException(
                    "max-events-per-key must be at least 1, got " + maxEventsPerKey);
        }
        if (stateFront < 0) {
            throw new IllegalArgumentException(
                    "state-front must be 0 (off) or more keys, got " + stateFront);
        }
        if (stateWriteDelay.isNegative()) {
            throw new IllegalArgumentException(
                    "state-write-delay must be zero (write every change at once) or"
                            + " positive, got "
                            + stateWriteDelay);
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
                    "quality-window must be at least 1 labelled event, got " + qualityWindow);
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
                    {"input-topic", inputTopic},
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
                                inputTopic,
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

    /**
     * The options {@code conf} gives, each one not set there at its default; the pipeline file read
     * and checked (with its model), its topics and model the defaults of the options that name
     * them.
     *
     * @throws IllegalArgumentException when an option is wrong, or with every problem of the
     *     pipeline file ({@link PipelineException}) as its cause
     */
    public static ScoringConfig from(ReadableConfig conf) {
        KafkaClientSettings kafka = KafkaClientSettings.from(conf);
        Pipeline pipeline = pipeline(conf);
        Configuration withDefaults = new Configuration();
        if (conf instanceof Configuration c) {
            withDefaults.addAll(c);
        } else {
            conf.toMap().forEach(withDefaults::setString);
        }
        if (!conf.getOptional(InferenceOptions.MODEL).isPresent()) {
            withDefaults.set(InferenceOptions.MODEL, pipeline.model());
        }
        return new ScoringConfig(
                bootstrapServers(conf, kafka),
                kafka,
                pipeline.definition(),
                pipeline.featureNames(),
                conf.getOptional(INPUT_TOPIC).orElse(pipeline.inputTopic()),
                conf.getOptional(SCORES_TOPIC).orElse(pipeline.outputTopic()),
                conf.getOptional(DEAD_LETTER_TOPIC).orElse(deadLetterTopic(conf, pipeline)),
                conf.get(CONTROL_TOPIC).trim(),
                conf.get(MODEL_STATUS_TOPIC),
                conf.getOptional(CHALLENGER_SCORES_TOPIC)
                        .orElse(
                                conf.getOptional(SCORES_TOPIC).orElse(pipeline.outputTopic())
                                        + "-challenger"),
                conf.get(GROUP_ID),
                conf.get(MAX_RECORD_BYTES),
                conf.get(MAX_CLOCK_SKEW),
                InferenceSettings.from(withDefaults),
                conf.getOptional(CHALLENGER_MODEL).filter(m -> !m.isBlank()).orElse(null),
                conf.get(STATE_TTL),
                conf.get(MAX_EVENTS_PER_KEY),
                conf.get(DEDUP_WINDOW),
                conf.get(STATE_FRONT),
                conf.get(STATE_WRITE_DELAY),
                conf.get(PARALLELISM),
                conf.get(DELIVERY),
                conf.get(CHECKPOINT_INTERVAL),
                conf.get(CHECKPOINT_TIMEOUT),
                conf.getOptional(TRANSACTIONAL_ID_PREFIX)
                        .orElseGet(() -> defaultTransactionalIdPrefix(conf, kafka, pipeline)),
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

    /** The file's dead-letter topic, or the input topic's, {@code --input-topic} included. */
    private static String deadLetterTopic(ReadableConfig conf, Pipeline pipeline) {
        return pipeline.deadLetterTopicGiven() || conf.getOptional(INPUT_TOPIC).isEmpty()
                ? pipeline.deadLetterTopic()
                : conf.get(INPUT_TOPIC) + "-dead-letter";
    }

    /** The pipeline file of {@code --pipeline}, read and checked against the model it will use. */
    private static Pipeline pipeline(ReadableConfig conf) {
        String location = conf.get(PIPELINE);
        String model = conf.getOptional(InferenceOptions.MODEL).orElse(null);
        try {
            return Pipeline.load(location, model, true);
        } catch (PipelineException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
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
    static String defaultTransactionalIdPrefix(
            ReadableConfig conf, KafkaClientSettings kafka, Pipeline pipeline) {
        String identity =
                String.join(
                        "\n",
                        bootstrapServers(conf, kafka),
                        conf.getOptional(INPUT_TOPIC).orElse(pipeline.inputTopic()),
                        conf.getOptional(SCORES_TOPIC).orElse(pipeline.outputTopic()),
                        conf.getOptional(DEAD_LETTER_TOPIC).orElse(pipeline.deadLetterTopic()));
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
