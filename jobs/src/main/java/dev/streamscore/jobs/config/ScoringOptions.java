package dev.streamscore.jobs.config;

import dev.streamscore.models.ExecutionProvider;
import dev.streamscore.operators.inference.OutputMode;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;

/**
 * Every option of the fraud-scoring job, each with its default and a one-line description. The
 * command line offers each as {@code --<key> value}, a YAML file given with {@code --config} may
 * set any of them, and the README's configuration table is checked against this list.
 */
public final class ScoringOptions {

    private ScoringOptions() {}

    public static final ConfigOption<String> BOOTSTRAP_SERVERS =
            ConfigOptions.key("bootstrap-servers")
                    .stringType()
                    .defaultValue("localhost:9092")
                    .withDescription("Kafka bootstrap servers, host:port[,host:port...].");

    public static final ConfigOption<String> TRANSACTIONS_TOPIC =
            ConfigOptions.key("transactions-topic")
                    .stringType()
                    .defaultValue("transactions")
                    .withDescription(
                            "Input topic of Avro single-object encoded Transaction records.");

    public static final ConfigOption<String> SCORES_TOPIC =
            ConfigOptions.key("scores-topic")
                    .stringType()
                    .defaultValue("fraud-scores")
                    .withDescription("Output topic of FraudScore records, keyed by card id.");

    public static final ConfigOption<String> DEAD_LETTER_TOPIC =
            ConfigOptions.key("dead-letter-topic")
                    .stringType()
                    .defaultValue("transactions-dead-letter")
                    .withDescription(
                            "Output topic of DeadLetter records for input that could not be"
                                    + " scored.");

    public static final ConfigOption<String> GROUP_ID =
            ConfigOptions.key("group-id")
                    .stringType()
                    .defaultValue("streamscore")
                    .withDescription(
                            "Kafka consumer group id; offsets are committed on checkpoints.");

    public static final ConfigOption<String> MODEL =
            ConfigOptions.key("model")
                    .stringType()
                    .defaultValue("bundled:gbdt")
                    .withDescription(
                            "Model to score with: bundled:gbdt, bundled:mlp, or a folder holding"
                                    + " descriptor.json and the ONNX file.");

    public static final ConfigOption<Integer> BATCH_SIZE =
            ConfigOptions.key("batch-size")
                    .intType()
                    .defaultValue(256)
                    .withDescription("Largest micro-batch scored with one ONNX Runtime call.");

    public static final ConfigOption<Duration> MAX_WAIT =
            ConfigOptions.key("max-wait")
                    .durationType()
                    .defaultValue(Duration.ofMillis(10))
                    .withDescription(
                            "Longest time the oldest event of a batch waits before the batch is"
                                    + " scored.");

    public static final ConfigOption<Integer> MAX_IN_FLIGHT =
            ConfigOptions.key("max-in-flight")
                    .intType()
                    .defaultValue(2)
                    .withDescription(
                            "Batches being scored at once per subtask; beyond this the operator"
                                    + " back-pressures.");

    public static final ConfigOption<Integer> INTRA_OP_THREADS =
            ConfigOptions.key("intra-op-threads")
                    .intType()
                    .defaultValue(1)
                    .withDescription(
                            "ONNX Runtime threads per model call; 1 by default, since a"
                                    + " TaskManager's slots already use the cores.");

    public static final ConfigOption<Integer> INTER_OP_THREADS =
            ConfigOptions.key("inter-op-threads")
                    .intType()
                    .defaultValue(1)
                    .withDescription("ONNX Runtime threads for independent graph nodes.");

    public static final ConfigOption<ExecutionProvider> EXECUTION_PROVIDER =
            ConfigOptions.key("execution-provider")
                    .enumType(ExecutionProvider.class)
                    .defaultValue(ExecutionProvider.CPU)
                    .withDescription(
                            "Where ONNX Runtime runs the model: cpu, cuda, tensorrt, or auto"
                                + " (TensorRT, else CUDA, else CPU; logs the choice and why). GPU"
                                + " providers need the build with -Pgpu.");

    public static final ConfigOption<Integer> GPU_DEVICE =
            ConfigOptions.key("gpu-device")
                    .intType()
                    .defaultValue(0)
                    .withDescription("GPU device id used by cuda and tensorrt.");

    public static final ConfigOption<List<Integer>> PAD_TO_SIZES =
            ConfigOptions.key("pad-to-sizes")
                    .intType()
                    .asList()
                    .defaultValues()
                    .withDescription(
                            "Batch sizes, increasing, to pad every model call to (e.g."
                                + " 1;8;32;128;256), for providers that prefer static shapes; empty"
                                + " = off.");

    public static final ConfigOption<String> ORT_PROFILE =
            ConfigOptions.key("ort-profile")
                    .stringType()
                    .noDefaultValue()
                    .withDescription(
                            "Write ONNX Runtime's own profiling trace (Chrome trace JSON) of each"
                                + " model session to <this prefix>_<time>.json when the job stops;"
                                + " for diagnosis, it slows every call.");

    public static final ConfigOption<OutputMode> OUTPUT_MODE =
            ConfigOptions.key("output-mode")
                    .enumType(OutputMode.class)
                    .defaultValue(OutputMode.UNORDERED)
                    .withDescription(
                            "unordered: each score as soon as it is known; ordered: scores in input"
                                + " order (a cache hit waits behind earlier events). Watermarks are"
                                + " respected in both.");

    public static final ConfigOption<Duration> LATENCY_TARGET =
            ConfigOptions.key("latency-target")
                    .durationType()
                    .defaultValue(Duration.ZERO)
                    .withDescription(
                            "Adaptive batching: choose batch size and wait (within batch-size and"
                                + " max-wait) to keep queue wait plus model time under this; 0 ="
                                + " off.");

    public static final ConfigOption<Duration> MODEL_CALL_TIMEOUT =
            ConfigOptions.key("model-call-timeout")
                    .durationType()
                    .defaultValue(Duration.ofSeconds(5))
                    .withDescription(
                            "A model call that takes longer counts as failed and is retried.");

    public static final ConfigOption<Integer> MAX_RETRIES =
            ConfigOptions.key("max-retries")
                    .intType()
                    .defaultValue(2)
                    .withDescription(
                            "Retries of a failed batch, with doubling backoff; a batch that still"
                                    + " fails is split in halves to isolate the bad rows.");

    public static final ConfigOption<Duration> RETRY_BACKOFF =
            ConfigOptions.key("retry-backoff")
                    .durationType()
                    .defaultValue(Duration.ofMillis(10))
                    .withDescription("Wait before the first retry; doubles for each further one.");

    public static final ConfigOption<Double> FALLBACK_SCORE =
            ConfigOptions.key("fallback-score")
                    .doubleType()
                    .noDefaultValue()
                    .withDescription(
                            "Score in [0, 1] for a transaction the model cannot score, marked"
                                    + " fallback=true; unset sends it to the dead-letter topic.");

    public static final ConfigOption<Duration> CACHE_TTL =
            ConfigOptions.key("cache-ttl")
                    .durationType()
                    .defaultValue(Duration.ofMinutes(10))
                    .withDescription(
                            "How long a score stays in the result cache; 0 disables the cache.");

    public static final ConfigOption<Duration> CARD_HISTORY_TTL =
            ConfigOptions.key("card-history-ttl")
                    .durationType()
                    .defaultValue(Duration.ofDays(30))
                    .withDescription(
                            "A card unseen for this long is forgotten by the feature state.");

    public static final ConfigOption<Duration> DEDUP_WINDOW =
            ConfigOptions.key("dedup-window")
                    .durationType()
                    .defaultValue(Duration.ofHours(1))
                    .withDescription(
                            "A transaction id seen again within this window is a re-send: not"
                                + " counted twice in its card's features, and scored as the first"
                                + " time; 0 turns this off.");

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

    public static final ConfigOption<String> TRANSACTIONAL_ID_PREFIX =
            ConfigOptions.key("transactional-id-prefix")
                    .stringType()
                    .defaultValue("streamscore")
                    .withDescription(
                            "Kafka transactional id prefix for exactly-once; unique per"
                                    + " application.");

    public static final ConfigOption<Duration> TRANSACTION_TIMEOUT =
            ConfigOptions.key("transaction-timeout")
                    .durationType()
                    .defaultValue(Duration.ofMinutes(10))
                    .withDescription(
                            "Kafka transaction timeout for exactly-once; above checkpoint time plus"
                                + " restart time, at most the broker's transaction.max.timeout.ms"
                                + " (15 min by default).");

    /** All options, in declaration order. */
    public static List<ConfigOption<?>> all() {
        List<ConfigOption<?>> options = new ArrayList<>();
        for (Field field : ScoringOptions.class.getDeclaredFields()) {
            if (Modifier.isStatic(field.getModifiers()) && field.getType() == ConfigOption.class) {
                try {
                    options.add((ConfigOption<?>) field.get(null));
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        return options;
    }

    /** Kafka delivery guarantee of the score and dead-letter sinks. */
    public enum DeliveryGuarantee {
        AT_LEAST_ONCE,
        EXACTLY_ONCE;

        @Override
        public String toString() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }
    }
}
