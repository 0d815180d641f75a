package dev.streamscore.testkit;

import java.util.Properties;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Plain Kafka clients of raw bytes, as any outside producer or reader of streamscore's topics would
 * configure them; for the demo, the benchmarks and the system tests.
 *
 * <pre>{@code
 * try (var producer = new KafkaProducer<byte[], byte[]>(KafkaClients.producer(bootstrap))) { ... }
 * var consumer = new KafkaConsumer<byte[], byte[]>(KafkaClients.readCommittedConsumer(bootstrap, "reader"));
 * }</pre>
 */
public final class KafkaClients {

    private KafkaClients() {}

    /**
     * A producer of raw bytes that waits for every in-sync replica ({@code acks=all}) and never
     * writes a record twice on a retry (idempotence).
     */
    public static Properties producer(String bootstrapServers) {
        return producer(bootstrapServers, new Properties());
    }

    /**
     * As {@link #producer(String)}, over {@code settings}: the user's client settings (security,
     * say), as the job's Kafka client settings give them.
     */
    public static Properties producer(String bootstrapServers, Properties settings) {
        Properties props = new Properties();
        props.putAll(settings);
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.put(
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        return props;
    }

    /**
     * A consumer of raw bytes in group {@code groupId} (null: no group, for a consumer that assigns
     * its partitions itself) that starts at the earliest offset and sees only committed records
     * ({@code read_committed}), as a reader of exactly-once output must.
     */
    public static Properties readCommittedConsumer(String bootstrapServers, String groupId) {
        return readCommittedConsumer(bootstrapServers, groupId, new Properties());
    }

    /** As {@link #readCommittedConsumer(String, String)}, over the user's {@code settings}. */
    public static Properties readCommittedConsumer(
            String bootstrapServers, String groupId, Properties settings) {
        Properties props = new Properties();
        props.putAll(settings);
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        if (groupId != null) {
            props.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        }
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG,
                ByteArrayDeserializer.class.getName());
        props.put(
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG,
                ByteArrayDeserializer.class.getName());
        return props;
    }

    /** An admin client's settings. */
    public static Properties admin(String bootstrapServers) {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        return props;
    }
}
