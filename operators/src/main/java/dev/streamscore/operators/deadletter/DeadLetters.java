package dev.streamscore.operators.deadletter;

import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.Stage;
import java.nio.ByteBuffer;
import java.time.Instant;
import org.apache.flink.util.OutputTag;

/**
 * The dead-letter side output shared by every operator, and the one way to build a dead letter so
 * that each carries the original bytes, where they came from, the stage and the reason.
 *
 * <pre>{@code
 * ctx.output(DeadLetters.TAG, DeadLetters.of(bytes, topic, partition, offset, Stage.DECODE, e, null));
 * }</pre>
 */
public final class DeadLetters {

    /** Side output of records that could not be processed. */
    public static final OutputTag<DeadLetter> TAG = new OutputTag<>("dead-letters") {};

    private DeadLetters() {}

    public static DeadLetter of(
            byte[] payload,
            String topic,
            int partition,
            long offset,
            Stage stage,
            Throwable error,
            String transactionId) {
        return of(
                payload,
                topic,
                partition,
                offset,
                stage,
                error.getClass().getName(),
                String.valueOf(error.getMessage()),
                transactionId);
    }

    public static DeadLetter of(
            byte[] payload,
            String topic,
            int partition,
            long offset,
            Stage stage,
            String errorClass,
            String errorMessage,
            String transactionId) {
        return DeadLetter.newBuilder()
                .setPayload(ByteBuffer.wrap(payload == null ? new byte[0] : payload))
                .setSourceTopic(topic == null ? "" : topic)
                .setSourcePartition(partition)
                .setSourceOffset(offset)
                .setStage(stage)
                .setErrorClass(errorClass)
                .setErrorMessage(errorMessage)
                .setFailedAt(Instant.now())
                .setTransactionId(transactionId)
                .build();
    }
}
