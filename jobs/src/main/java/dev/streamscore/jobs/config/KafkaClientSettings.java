package dev.streamscore.jobs.config;

import java.io.IOException;
import java.io.Reader;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.function.Function;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.connector.base.DeliveryGuarantee;

/**
 * The Kafka client settings a user gives the job (security, timeouts, anything else a Kafka client
 * takes), the way Kafka's own tools take them: a standard client properties file ({@code
 * --kafka-config client.properties}, what {@code kafka-console-consumer --consumer-config} reads),
 * overridden by {@code kafka.<property>} keys in the YAML config or as flags. A property for one
 * client only has the prefix {@code consumer.} or {@code producer.} (in the file) or {@code
 * kafka.consumer.} / {@code kafka.producer.} (as keys).
 *
 * <p>The job's source and sinks, and every client the tools make, apply them under what the job
 * sets itself. Settings the job owns (see {@link #check}) are refused with a message that says
 * which option to use instead, or why the value would break a guarantee. Secrets belong in a file
 * or the environment, referenced through Kafka's own config providers ({@code
 * config.providers=file} with {@code ${file:/path:key}} values); the values are never printed:
 * {@link #toString()} shows the keys only.
 *
 * <pre>{@code
 * KafkaClientSettings kafka = KafkaClientSettings.from(conf);
 * kafka.check(DeliveryGuarantee.EXACTLY_ONCE);
 * Properties consumer = kafka.consumer(); // common settings, then the consumer's own
 * }</pre>
 */
public final class KafkaClientSettings implements Serializable {

    private static final long serialVersionUID = 1L;

    /** The prefix of Kafka client properties among the job's options. */
    public static final String KEY_PREFIX = "kafka.";

    static final String CONSUMER = "consumer.";
    static final String PRODUCER = "producer.";

    /** No settings: each client as the job configures it. */
    public static final KafkaClientSettings NONE =
            new KafkaClientSettings(Layer.EMPTY, Layer.EMPTY, null);

    /** What the file gives, and what the options give over it. */
    private final Layer fromFile;

    private final Layer fromOptions;
    private final String file;

    private KafkaClientSettings(Layer fromFile, Layer fromOptions, String file) {
        this.fromFile = fromFile;
        this.fromOptions = fromOptions;
        this.file = file;
    }

    /**
     * The settings of the file named by {@link ScoringOptions#KAFKA_CONFIG} (if any), overridden by
     * the {@code kafka.*} keys of {@code conf}.
     *
     * @throws IllegalArgumentException when the file cannot be read
     */
    public static KafkaClientSettings from(ReadableConfig conf) {
        String file = conf.getOptional(ScoringOptions.KAFKA_CONFIG).orElse(null);
        Layer fromFile = Layer.EMPTY;
        if (file != null) {
            Properties props = load(Path.of(file));
            Map<String, String> entries = new TreeMap<>();
            for (String key : props.stringPropertyNames()) {
                entries.put(key, props.getProperty(key));
            }
            fromFile = Layer.of(entries, "in " + file);
        }
        Map<String, String> options = new TreeMap<>();
        for (Map.Entry<String, String> e : conf.toMap().entrySet()) {
            if (e.getKey().startsWith(KEY_PREFIX)) {
                options.put(e.getKey().substring(KEY_PREFIX.length()), e.getValue());
            }
        }
        return new KafkaClientSettings(
                fromFile, Layer.of(options, "given as a kafka.* option"), file);
    }

    /** Whether {@code key} is a job option that carries a Kafka client property. */
    public static boolean isClientProperty(String key) {
        return key.startsWith(KEY_PREFIX) && key.length() > KEY_PREFIX.length();
    }

    /**
     * The settings for a consumer (or an admin client): the file's common ones, the file's consumer
     * ones, then the options' common and consumer ones, each over the one before.
     */
    public Properties consumer() {
        return layered(Layer::consumer);
    }

    /** The settings for a producer, layered as {@link #consumer()}. */
    public Properties producer() {
        return layered(Layer::producer);
    }

    private Properties layered(Function<Layer, Map<String, String>> client) {
        Properties props = new Properties();
        for (Layer layer : List.of(fromFile, fromOptions)) {
            props.putAll(layer.common);
            props.putAll(client.apply(layer));
        }
        return props;
    }

    /** The {@code bootstrap.servers} the settings give, or {@code null}. */
    public String bootstrapServers() {
        return fromOptions.common.getOrDefault(
                "bootstrap.servers", fromFile.common.get("bootstrap.servers"));
    }

    /**
     * Refuses what the job sets itself or what would break {@code delivery}'s guarantee, saying
     * which option to use instead.
     *
     * @throws IllegalArgumentException naming the first refused property
     */
    public void check(DeliveryGuarantee delivery) {
        Properties c = consumer();
        Properties p = producer();
        refuse(c, "group.id", "set it with --group-id");
        refuse(c, "key.deserializer", "the job reads raw bytes itself");
        refuse(c, "value.deserializer", "the job reads raw bytes itself");
        refuse(p, "key.serializer", "the job writes Avro single-object bytes itself");
        refuse(p, "value.serializer", "the job writes Avro single-object bytes itself");
        refuse(p, "transactional.id", "set the prefix with --transactional-id-prefix");
        refuse(p, "transaction.timeout.ms", "set it with --transaction-timeout");
        String isolation = c.getProperty("isolation.level");
        if (isolation != null && !isolation.trim().equalsIgnoreCase("read_committed")) {
            throw new IllegalArgumentException(
                    "Kafka consumer setting isolation.level="
                            + isolation.trim()
                            + " is refused: the job reads read_committed, so that it never scores"
                            + " a transaction an upstream exactly-once producer may still abort");
        }
        String autoCommit = c.getProperty("enable.auto.commit");
        if (autoCommit != null && autoCommit.trim().equalsIgnoreCase("true")) {
            throw new IllegalArgumentException(
                    "Kafka consumer setting enable.auto.commit=true is refused: the job commits its"
                            + " offsets on checkpoints and restores them from its state");
        }
        String acks = p.getProperty("acks");
        if (acks != null && !acks.trim().equals("all") && !acks.trim().equals("-1")) {
            throw new IllegalArgumentException(
                    "Kafka producer setting acks="
                            + acks.trim()
                            + " is refused: the job writes with acks=all, so that a score the"
                            + " broker acknowledged survives the loss of a broker");
        }
        String idempotence = p.getProperty("enable.idempotence");
        if (delivery == DeliveryGuarantee.EXACTLY_ONCE
                && idempotence != null
                && idempotence.trim().equalsIgnoreCase("false")) {
            throw new IllegalArgumentException(
                    "Kafka producer setting enable.idempotence=false is refused with exactly-once"
                            + " delivery: Kafka transactions need the idempotent producer");
        }
    }

    /** The file and the keys given, never the values (they may be secrets). */
    @Override
    public String toString() {
        return "KafkaClientSettings{file="
                + file
                + ", file keys="
                + fromFile
                + ", option keys="
                + fromOptions
                + "}";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof KafkaClientSettings that
                && consumer().equals(that.consumer())
                && producer().equals(that.producer());
    }

    @Override
    public int hashCode() {
        return consumer().hashCode() * 31 + producer().hashCode();
    }

    /**
     * The settings one source gives: for both clients, and for one of them. Every name must be a
     * Kafka client setting (or a config provider's), so that a typo such as {@code kafka.config}
     * for {@code kafka-config} fails instead of being passed on and ignored.
     */
    private record Layer(
            Map<String, String> common, Map<String, String> consumer, Map<String, String> producer)
            implements Serializable {

        static final Layer EMPTY = new Layer(Map.of(), Map.of(), Map.of());

        static Layer of(Map<String, String> entries, String where) {
            Map<String, String> common = new TreeMap<>();
            Map<String, String> consumer = new TreeMap<>();
            Map<String, String> producer = new TreeMap<>();
            for (Map.Entry<String, String> e : entries.entrySet()) {
                String key = e.getKey().trim();
                if (key.startsWith(CONSUMER)) {
                    String name = key.substring(CONSUMER.length());
                    checkName(name, ClientNames.CONSUMER, key, where);
                    consumer.put(name, e.getValue());
                } else if (key.startsWith(PRODUCER)) {
                    String name = key.substring(PRODUCER.length());
                    checkName(name, ClientNames.PRODUCER, key, where);
                    producer.put(name, e.getValue());
                } else {
                    checkName(key, ClientNames.ANY, key, where);
                    common.put(key, e.getValue());
                }
            }
            return new Layer(
                    Collections.unmodifiableMap(common),
                    Collections.unmodifiableMap(consumer),
                    Collections.unmodifiableMap(producer));
        }

        @Override
        public String toString() {
            return "{common="
                    + common.keySet()
                    + ", consumer="
                    + consumer.keySet()
                    + ", producer="
                    + producer.keySet()
                    + "}";
        }

        private static void checkName(
                String name, java.util.Set<String> known, String key, String where) {
            if (name.equals("bootstrap.servers") && !key.equals(name)) {
                throw new IllegalArgumentException(
                        "Kafka client setting "
                                + key
                                + " "
                                + where
                                + " is refused: both clients and the connection check use one"
                                + " bootstrap.servers (or --bootstrap-servers)");
            }
            if (!known.contains(name) && !name.startsWith("config.providers.")) {
                throw new IllegalArgumentException(
                        "unknown Kafka client setting '"
                                + key
                                + "' "
                                + where
                                + ": not a "
                                + (known == ClientNames.CONSUMER
                                        ? "consumer"
                                        : known == ClientNames.PRODUCER
                                                ? "producer"
                                                : "consumer, producer or admin client")
                                + " setting of kafka-clients"
                                + (name.equals("config")
                                        ? " (the client properties file is --kafka-config)"
                                        : ""));
            }
        }
    }

    private static void refuse(Properties props, String key, String instead) {
        if (props.containsKey(key)) {
            throw new IllegalArgumentException(
                    "Kafka client setting " + key + " is refused: " + instead);
        }
    }

    private static Properties load(Path path) {
        if (!Files.isRegularFile(path)) {
            throw new IllegalArgumentException(
                    "Kafka client properties file " + path + " does not exist");
        }
        Properties props = new Properties();
        try (Reader in = Files.newBufferedReader(path)) {
            props.load(in);
        } catch (IOException | IllegalArgumentException e) {
            // Not e's message: a malformed line may hold a secret.
            throw new IllegalArgumentException(
                    "cannot read Kafka client properties file "
                            + path
                            + " ("
                            + e.getClass().getSimpleName()
                            + "); expected key=value lines as kafka-console-consumer"
                            + " --consumer-config reads them");
        }
        return props;
    }
}
