package dev.streamscore.jobs.config;

import java.util.Set;
import java.util.TreeSet;
import org.apache.flink.connector.kafka.source.KafkaSourceOptions;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;

/**
 * The names of the settings Kafka's clients take, from kafka-clients' own config definitions (and
 * the Kafka source's own properties, which the connector reads from the consumer's), so that a
 * misspelt setting is refused instead of passed on and ignored.
 */
final class ClientNames {

    private ClientNames() {}

    static final Set<String> CONSUMER = consumer();
    static final Set<String> PRODUCER = producer();

    /**
     * Any client's. A setting for both clients goes to both; the one that does not know it logs a
     * warning and ignores it, as Kafka's clients do.
     */
    static final Set<String> ANY = any();

    private static Set<String> consumer() {
        Set<String> names = new TreeSet<>(ConsumerConfig.configNames());
        names.add("config.providers");
        names.add(KafkaSourceOptions.CLIENT_ID_PREFIX.key());
        names.add(KafkaSourceOptions.PARTITION_DISCOVERY_INTERVAL_MS.key());
        names.add(KafkaSourceOptions.REGISTER_KAFKA_CONSUMER_METRICS.key());
        names.add(KafkaSourceOptions.COMMIT_OFFSETS_ON_CHECKPOINT.key());
        return Set.copyOf(names);
    }

    private static Set<String> producer() {
        Set<String> names = new TreeSet<>(ProducerConfig.configNames());
        names.add("config.providers");
        return Set.copyOf(names);
    }

    private static Set<String> any() {
        Set<String> names = new TreeSet<>(CONSUMER);
        names.addAll(PRODUCER);
        names.addAll(AdminClientConfig.configNames());
        names.add("config.providers");
        return Set.copyOf(names);
    }
}
