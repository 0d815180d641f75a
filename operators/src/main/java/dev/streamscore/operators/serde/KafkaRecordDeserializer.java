package dev.streamscore.operators.serde;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Hands each Kafka record on undecoded, with its coordinates. Decoding happens in {@link
 * EventDecoder}, where a failure becomes a dead letter instead of failing the source.
 */
public class KafkaRecordDeserializer implements KafkaRecordDeserializationSchema<KafkaRecord> {

    private static final long serialVersionUID = 1L;

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<KafkaRecord> out) {
        // A tombstone (null value) is still a record someone sent: keep it, as zero bytes.
        byte[] value = record.value() == null ? new byte[0] : record.value();
        out.collect(
                new KafkaRecord(
                        value,
                        record.topic(),
                        record.partition(),
                        record.offset(),
                        record.timestamp()));
    }

    @Override
    public TypeInformation<KafkaRecord> getProducedType() {
        return TypeInformation.of(KafkaRecord.class);
    }
}
