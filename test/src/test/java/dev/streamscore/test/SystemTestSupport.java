package dev.streamscore.test;

import dev.streamscore.models.OnnxModel;
import dev.streamscore.models.OnnxOptions;
import dev.streamscore.operators.features.CardFeatures;
import dev.streamscore.operators.features.CardHistory;
import dev.streamscore.schemas.Transaction;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/** What the system tests share: the independent reference scores and plain Kafka clients. */
final class SystemTestSupport {

    private SystemTestSupport() {}

    /**
     * The model's score of each transaction with features computed here, independently of any job,
     * from each card's transactions in the given order.
     */
    static float[] referenceScores(List<Transaction> transactions, String model) throws Exception {
        Map<String, CardHistory> histories = new HashMap<>();
        float[][] rows = new float[transactions.size()][];
        for (int i = 0; i < transactions.size(); i++) {
            Transaction txn = transactions.get(i);
            rows[i] =
                    CardFeatures.computeAndUpdate(
                            histories.computeIfAbsent(txn.getCardId(), k -> new CardHistory()),
                            txn);
        }
        try (OnnxModel onnx = OnnxModel.open(model, OnnxOptions.DEFAULT)) {
            return onnx.score(rows);
        }
    }

    /** A read_committed consumer of raw bytes, as any outside reader of the topics would be. */
    static Properties readCommittedConsumer(String bootstrapServers) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
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

    /** A plain, idempotent producer of raw bytes. */
    static Properties producer(String bootstrapServers) {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.put(
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        return props;
    }
}
