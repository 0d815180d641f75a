package dev.streamscore.jobs.config;

import java.io.IOException;
import java.io.Reader;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
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
            new KafkaClientSettings(Map.of(), Map.of(), Map.of(), null);

    private final Map<String, String> common;
    private final Map<String, String> consumer;
    private final Map<String, String> producer;
    private final String file;

    private KafkaClientSettings(
            Map<String, String> common,
            Map<String, String> consumer,
            Map<String, String> producer,
            String file) {
        this.common = Collections.unmodifiableMap(new TreeMap<>(common));
        this.consumer = Collections.unmodifiableMap(new TreeMap<>(consumer));
        this.producer = Collections.unmodifiableMap(new TreeMap<>(producer));
        this.file = file;
    }

    /**
     * The settings of the file named by {@link ScoringOptions#KAFKA_CONFIG} (if any), overridden by
     * the {@code kafka.*} keys of {@code conf}.
     *
     * @throws IllegalArgumentException when the file cannot be read
     */
    public static KafkaClientSettings from(ReadableConfig conf) {
        Map<String, String> common = new TreeMap<>();
        Map<String, String> consumer = new TreeMap<>();
        Map<String, String> producer = new TreeMap<>();
        String file = conf.getOptional(ScoringOptions.KAFKA_CONFIG).orElse(null);
        if (file != null) {
            Properties props = load(Path.of(file));
            for (String key : props.stringPropertyNames()) {
                put(key, props.getProperty(key), common, consumer, producer);
            }
        }
        for (Map.Entry<String, String> e : conf.toMap().entrySet()) {
            if (e.getKey().startsWith(KEY_PREFIX)) {
                put(
                        e.getKey().substring(KEY_PREFIX.length()),
                        e.getValue(),
                        common,
                        consumer,
                        producer);
            }
        }
        return new KafkaClientSettings(common, consumer, producer, file);
    }

    /** Whether {@code key} is a job option that carries a Kafka client property. */
    public static boolean isClientProperty(String key) {
        return key.startsWith(KEY_PREFIX) && key.length() > KEY_PREFIX.length();
    }

    /** The settings for a consumer (or an admin client): the common ones, then the consumer's. */
    public Properties consumer() {
        return merged(consumer);
    }

    /** The settings for a producer: the common ones, then the producer's. */
    public Properties producer() {
        return merged(producer);
    }

    /** The {@code bootstrap.servers} the settings give, or {@code null}. */
    public String bootstrapServers() {
        return common.get("bootstrap.servers");
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

    /** Whether any setting was given. */
    public boolean isEmpty() {
        return common.isEmpty() && consumer.isEmpty() && producer.isEmpty();
    }

    /** The file and the keys given, never the values (they may be secrets). */
    @Override
    public String toString() {
        return "KafkaClientSettings{file="
                + file
                + ", common="
                + common.keySet()
                + ", consumer="
                + consumer.keySet()
                + ", producer="
                + producer.keySet()
                + "}";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof KafkaClientSettings that
                && common.equals(that.common)
                && consumer.equals(that.consumer)
                && producer.equals(that.producer);
    }

    @Override
    public int hashCode() {
        return common.hashCode() * 31 + consumer.hashCode() * 7 + producer.hashCode();
    }

    private Properties merged(Map<String, String> own) {
        Properties props = new Properties();
        props.putAll(common);
        props.putAll(own);
        return props;
    }

    private static void put(
            String key,
            String value,
            Map<String, String> common,
            Map<String, String> consumer,
            Map<String, String> producer) {
        if (key.startsWith(CONSUMER)) {
            consumer.put(key.substring(CONSUMER.length()), value);
        } else if (key.startsWith(PRODUCER)) {
            producer.put(key.substring(PRODUCER.length()), value);
        } else {
            common.put(key, value);
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
