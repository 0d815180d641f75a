package dev.streamscore.jobs.config;

import dev.streamscore.operators.batching.BatchingOptions;
import dev.streamscore.operators.features.PipelineFeatureEnricher;
import dev.streamscore.operators.inference.InferenceOptions;
import dev.streamscore.operators.serde.EventDecoder;
import dev.streamscore.pipeline.PipelineDefinition;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.connector.base.DeliveryGuarantee;

/**
 * The options of the scoring job, each with its default and a one-line description: the one place
 * their defaults are written. Those of its inference and batching are defined beside the operators
 * that read them ({@link InferenceOptions}, {@link BatchingOptions}); {@link #all()} is every
 * option. The command line offers each as {@code --<key> value}, a YAML file given with {@code
 * --config} may set any of them, and the README's configuration table is checked against {@link
 * #all()}.
 */
public final class ScoringOptions {

    private ScoringOptions() {}

    public static final ConfigOption<String> BOOTSTRAP_SERVERS =
            ConfigOptions.key("bootstrap-servers")
                    .stringType()
                    .defaultValue("localhost:9092")
                    .withDescription("Kafka bootstrap servers, host:port[,host:port...].");

    public static final ConfigOption<String> KAFKA_CONFIG =
            ConfigOptions.key("kafka-config")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "Kafka client properties file (security, timeouts, ...), as"
                                + " kafka-console-consumer --consumer-config reads it; consumer. or"
                                + " producer. prefixes for one client; kafka.<property> options win"
                                + " over it.");

    public static final ConfigOption<String> PIPELINE =
            ConfigOptions.key("pipeline")
                    .stringType()
                    .defaultValue(PipelineDefinition.DEFAULT)
                    .withDescription(
                            "The pipeline file: the input topic and its event schema, the per-key"
                                    + " aggregates and CEL features, the model and the output"
                                    + " (docs/pipelines.md). By default the bundled card-fraud"
                                    + " pipeline.");

    public static final ConfigOption<String> INPUT_TOPIC =
            ConfigOptions.key("input-topic")
                    .stringType()
                    .noDefaultValue()
                    .withDeprecatedKeys("transactions-topic")
                    .withDescription(
                            "Input topic; by default the pipeline's input.topic (transactions for"
                                    + " the card-fraud pipeline).");

    public static final ConfigOption<String> SCORES_TOPIC =
            ConfigOptions.key("scores-topic")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "Output topic of the scores, keyed by the pipeline's key; by default"
                                + " the pipeline's output.topic (fraud-scores for card-fraud).");

    public static final ConfigOption<String> DEAD_LETTER_TOPIC =
            ConfigOptions.key("dead-letter-topic")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "Output topic of DeadLetter records for input that could not be"
                                    + " scored; by default the pipeline's dead_letters.topic, or"
                                    + " <input topic>-dead-letter.");

    public static final ConfigOption<String> CONTROL_TOPIC =
            ConfigOptions.key("control-topic")
                    .stringType()
                    .defaultValue("streamscore-control")
                    .withDescription(
                            "Input topic of ModelCommand records (streamscore model deploy,"
                                + " rollback, retire), read from its end on a fresh start and from"
                                + " the checkpoint after a restore; empty = models change only by"
                                + " restart.");

    public static final ConfigOption<String> MODEL_STATUS_TOPIC =
            ConfigOptions.key("model-status-topic")
                    .stringType()
                    .defaultValue("streamscore-model-status")
                    .withDescription(
                            "Output topic of ModelStatus records: what each inference subtask did"
                                    + " with each model command.");

    public static final ConfigOption<String> CHALLENGER_SCORES_TOPIC =
            ConfigOptions.key("challenger-scores-topic")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "Output topic of the challenger's scores, in the pipeline's output"
                                    + " format, keyed as the scores; they never decide. By default"
                                    + " <scores topic>-challenger (fraud-scores-challenger for"
                                    + " card-fraud).");

    public static final ConfigOption<String> CHALLENGER_MODEL =
            ConfigOptions.key("challenger-model")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "Model scoring in shadow beside the champion (--model), as a deploy"
                                    + " --role challenger would make it: bundled:<id> or a"
                                    + " folder; none by default.");

    public static final ConfigOption<String> GROUP_ID =
            ConfigOptions.key("group-id")
                    .stringType()
                    .defaultValue("streamscore")
                    .withDescription(
                            "Kafka consumer group id; offsets are committed on checkpoints.");

    public static final ConfigOption<Integer> MAX_RECORD_BYTES =
            ConfigOptions.key("max-record-bytes")
                    .intType()
                    .defaultValue(EventDecoder.DEFAULT_MAX_RECORD_BYTES)
                    .withDescription(
                            "An input record larger than this is a dead letter without being"
                                    + " decoded; at most 16 MiB (Avro's reader limits).");

    public static final ConfigOption<Duration> MAX_CLOCK_SKEW =
            ConfigOptions.key("max-clock-skew")
                    .durationType()
                    .defaultValue(EventDecoder.DEFAULT_MAX_CLOCK_SKEW)
                    .withDescription(
                            "An event whose time is later than the wall clock plus this"
                                    + " is a dead letter (stage VALIDATE).");

    public static final ConfigOption<Duration> STATE_TTL =
            ConfigOptions.key("state-ttl")
                    .durationType()
                    .defaultValue(Duration.ofDays(30))
                    .withDeprecatedKeys("card-history-ttl")
                    .withDescription(
                            "A key unseen for this long is forgotten by the feature state.");

    public static final ConfigOption<Integer> MAX_EVENTS_PER_KEY =
            ConfigOptions.key("max-events-per-key")
                    .intType()
                    .defaultValue(PipelineFeatureEnricher.DEFAULT_MAX_EVENTS_PER_KEY)
                    .withDescription(
                            "Most recent events kept per key for the windowed aggregates; beyond it"
                                    + " the oldest are dropped (metric eventsDroppedOverLimit), so"
                                    + " windows are exact up to this many events inside the longest"
                                    + " one.");

    public static final ConfigOption<Duration> DEDUP_WINDOW =
            ConfigOptions.key("dedup-window")
                    .durationType()
                    .defaultValue(Duration.ofHours(1))
                    .withDescription(
                            "An event id seen again for the same key less than this long"
                                + " (processing time) after it first arrived is a re-send: not"
                                + " counted twice in its key's aggregates, and scored as the first"
                                + " time; 0 turns this off. At most state-ttl.");

    public static final ConfigOption<Integer> STATE_FRONT =
            ConfigOptions.key("state-front")
                    .intType()
                    .defaultValue(PipelineFeatureEnricher.DEFAULT_FRONT_KEYS)
                    .withDeprecatedKeys("card-state-front")
                    .withDescription(
                            "Keys per subtask whose feature state stays in memory in front of"
                                + " RocksDB: no state read per event for them, and about one write"
                                + " per state-write-delay however many events change it. 0 reads"
                                + " and writes RocksDB for every event.");

    public static final ConfigOption<Duration> STATE_WRITE_DELAY =
            ConfigOptions.key("state-write-delay")
                    .durationType()
                    .defaultValue(PipelineFeatureEnricher.DEFAULT_WRITE_DELAY)
                    .withDeprecatedKeys("card-state-write-delay")
                    .withDescription(
                            "A key changed again within this time has its state written to RocksDB"
                                + " no earlier than this after its first unwritten change, so that"
                                + " its changes meanwhile cost nothing; any other key is written at"
                                + " once. A checkpoint writes the keys left on the task thread, so"
                                + " this bounds the pause it adds. 0 writes every change at once."
                                + " (Only with the state front.)");

    public static final ConfigOption<Integer> PARALLELISM =
            ConfigOptions.key("parallelism")
                    .intType()
                    .defaultValue(2)
                    .withDescription("Parallelism of every operator of the job.");

    public static final ConfigOption<DeliveryGuarantee> DELIVERY =
            ConfigOptions.key("delivery")
                    .enumType(DeliveryGuarantee.class)
                    .defaultValue(DeliveryGuarantee.AT_LEAST_ONCE)
                    .withDescription(
                            "at-least-once (scores visible at once) or exactly-once (Kafka"
                                    + " transactions; scores visible to read_committed consumers at"
                                    + " each checkpoint).");

    public static final ConfigOption<Duration> CHECKPOINT_INTERVAL =
            ConfigOptions.key("checkpoint-interval")
                    .durationType()
                    .defaultValue(Duration.ofSeconds(10))
                    .withDescription(
                            "Time between checkpoints; with exactly-once, the delay before scores"
                                    + " become visible.");

    public static final ConfigOption<Duration> CHECKPOINT_TIMEOUT =
            ConfigOptions.key("checkpoint-timeout")
                    .durationType()
                    .defaultValue(Duration.ofMinutes(2))
                    .withDescription(
                            "A checkpoint that takes longer is abandoned (and counts as a"
                                    + " failure); with exactly-once, well below"
                                    + " transaction-timeout.");

    public static final ConfigOption<String> TRANSACTIONAL_ID_PREFIX =
            ConfigOptions.key("transactional-id-prefix")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "Kafka transactional id prefix for exactly-once, unique per"
                                + " application; by default streamscore-<group-id>-<8 hex digits of"
                                + " the servers and topics>, so that jobs on other topics or groups"
                                + " never fence each other.");

    public static final ConfigOption<Duration> TRANSACTION_TIMEOUT =
            ConfigOptions.key("transaction-timeout")
                    .durationType()
                    .defaultValue(Duration.ofMinutes(10))
                    .withDescription(
                            "Kafka transaction timeout for exactly-once; above checkpoint-interval"
                                + " plus checkpoint-timeout (checked at start), and at most the"
                                + " brokers' transaction.max.timeout.ms (15 min by default; checked"
                                + " at start where the client may read it).");

    public static final ConfigOption<Integer> MAX_FAILURES =
            ConfigOptions.key("max-failures")
                    .intType()
                    .defaultValue(3)
                    .withDescription(
                            "Failures the job restarts from within failure-interval (Flink's"
                                + " failure-rate strategy); one more ends the job with its cause. 0"
                                + " = never restart.");

    public static final ConfigOption<Duration> FAILURE_INTERVAL =
            ConfigOptions.key("failure-interval")
                    .durationType()
                    .defaultValue(Duration.ofMinutes(10))
                    .withDescription("The window max-failures is counted in.");

    public static final ConfigOption<Duration> RESTART_DELAY =
            ConfigOptions.key("restart-delay")
                    .durationType()
                    .defaultValue(Duration.ofSeconds(5))
                    .withDescription("Wait before each restart.");

    public static final ConfigOption<String> FEATURE_LOG_TOPIC =
            ConfigOptions.key("feature-log-topic")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "Output topic of FeatureLogEntry records, keyed by event id: the"
                                    + " exact features each score was made from, with the model"
                                    + " version and the score, for retraining; none (off) by"
                                    + " default.");

    public static final ConfigOption<String> LABELS_TOPIC =
            ConfigOptions.key("labels-topic")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "Input topic of FraudLabel records (chargebacks, analysts' and"
                                    + " customers' verdicts), joined with what was scored to"
                                    + " measure each model version's live quality; none (off) by"
                                    + " default.");

    public static final ConfigOption<String> QUALITY_TOPIC =
            ConfigOptions.key("quality-topic")
                    .stringType()
                    .defaultValue("streamscore-model-quality")
                    .withDescription(
                            "Output topic of ModelQuality records (precision, recall and PR-AUC"
                                    + " per model version), with --labels-topic.");

    public static final ConfigOption<Duration> LABEL_HORIZON =
            ConfigOptions.key("label-horizon")
                    .durationType()
                    .defaultValue(Duration.ofDays(90))
                    .withDescription(
                            "How long a score waits for its label (and a label for its score)"
                                    + " in keyed state before it is forgotten.");

    public static final ConfigOption<Integer> QUALITY_WINDOW =
            ConfigOptions.key("quality-window")
                    .intType()
                    .defaultValue(10_000)
                    .withDescription(
                            "Labelled events per model version that live quality is"
                                    + " computed over: the most recent ones.");

    public static final ConfigOption<Duration> QUALITY_INTERVAL =
            ConfigOptions.key("quality-interval")
                    .durationType()
                    .defaultValue(Duration.ofSeconds(10))
                    .withDescription(
                            "How often each model version's quality is computed and written,"
                                    + " while labels arrive.");

    /** The options of the job itself, beside those of its inference and batching. */
    public static List<ConfigOption<?>> own() {
        return List.of(
                BOOTSTRAP_SERVERS,
                KAFKA_CONFIG,
                PIPELINE,
                INPUT_TOPIC,
                SCORES_TOPIC,
                DEAD_LETTER_TOPIC,
                CONTROL_TOPIC,
                MODEL_STATUS_TOPIC,
                CHALLENGER_SCORES_TOPIC,
                GROUP_ID,
                CHALLENGER_MODEL,
                MAX_RECORD_BYTES,
                MAX_CLOCK_SKEW,
                STATE_TTL,
                MAX_EVENTS_PER_KEY,
                DEDUP_WINDOW,
                STATE_FRONT,
                STATE_WRITE_DELAY,
                PARALLELISM,
                DELIVERY,
                CHECKPOINT_INTERVAL,
                CHECKPOINT_TIMEOUT,
                TRANSACTIONAL_ID_PREFIX,
                TRANSACTION_TIMEOUT,
                MAX_FAILURES,
                FAILURE_INTERVAL,
                RESTART_DELAY,
                FEATURE_LOG_TOPIC,
                LABELS_TOPIC,
                QUALITY_TOPIC,
                LABEL_HORIZON,
                QUALITY_WINDOW,
                QUALITY_INTERVAL);
    }

    /**
     * Every option the job takes, in the README's order: Kafka and topics, then the model and ONNX
     * Runtime ({@link InferenceOptions}), batching ({@link BatchingOptions}), then features,
     * parallelism, delivery and checkpoints.
     */
    public static List<ConfigOption<?>> all() {
        List<ConfigOption<?>> own = own();
        List<ConfigOption<?>> options = new ArrayList<>(own.subList(0, 10));
        options.addAll(InferenceOptions.all());
        options.add(CHALLENGER_MODEL);
        options.addAll(BatchingOptions.all());
        options.addAll(own.subList(11, own.size()));
        return List.copyOf(options);
    }
}
