package dev.streamscore.operators.deadletter;

import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.Stage;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.Arrays;
import java.util.HexFormat;
import org.apache.flink.util.OutputTag;

/**
 * The dead-letter side output shared by every operator, and the one way to build a dead letter so
 * that each carries the original bytes (or, past {@link #MAX_PAYLOAD_BYTES}, their first bytes with
 * the original size and SHA-256), where they came from, the stage and the reason.
 *
 * <p>Every text a dead letter carries is capped ({@link #MAX_MESSAGE_CHARS}, {@link
 * #MAX_ID_CHARS}), so a dead letter is at most about {@link #MAX_ENCODED_BYTES} bytes: it fits the
 * default Kafka limit of 1 MiB per record whatever the input was. {@link #fitTo} cuts one further
 * for a producer configured below that.
 *
 * <pre>{@code
 * ctx.output(DeadLetters.TAG, DeadLetters.of(bytes, topic, partition, offset, Stage.DECODE, e, null));
 * }</pre>
 */
public final class DeadLetters {

    /** Side output of records that could not be processed. */
    public static final OutputTag<DeadLetter> TAG = new OutputTag<>("dead-letters") {};

    /** Most payload bytes a dead letter carries; the rest is cut (size and SHA-256 are kept). */
    public static final int MAX_PAYLOAD_BYTES = 512 * 1024;

    /** Longest error message kept, in characters. */
    public static final int MAX_MESSAGE_CHARS = 4096;

    /** Longest error class, topic or event id kept, in characters. */
    public static final int MAX_ID_CHARS = 256;

    /**
     * Upper bound of an encoded dead letter: the payload, four capped texts at up to 4 UTF-8 bytes
     * per character (a surrogate pair is two characters) and the fixed fields.
     */
    public static final int MAX_ENCODED_BYTES =
            MAX_PAYLOAD_BYTES + 4 * (MAX_MESSAGE_CHARS + 3 * MAX_ID_CHARS) + 1024;

    private static final String ELLIPSIS = "...";

    private DeadLetters() {}

    public static DeadLetter of(
            byte[] payload,
            String topic,
            int partition,
            long offset,
            Stage stage,
            Throwable error,
            String eventId) {
        return of(
                payload,
                topic,
                partition,
                offset,
                stage,
                error.getClass().getName(),
                String.valueOf(error.getMessage()),
                eventId);
    }

    public static DeadLetter of(
            byte[] payload,
            String topic,
            int partition,
            long offset,
            Stage stage,
            String errorClass,
            String errorMessage,
            String eventId) {
        byte[] bytes = payload == null ? new byte[0] : payload;
        boolean truncated = bytes.length > MAX_PAYLOAD_BYTES;
        return DeadLetter.newBuilder()
                .setPayload(
                        ByteBuffer.wrap(
                                truncated ? Arrays.copyOf(bytes, MAX_PAYLOAD_BYTES) : bytes))
                .setPayloadSize(bytes.length)
                .setPayloadSha256(sha256(bytes))
                .setPayloadTruncated(truncated)
                .setSourceTopic(cut(topic == null ? "" : topic, MAX_ID_CHARS))
                .setSourcePartition(partition)
                .setSourceOffset(offset)
                .setStage(stage)
                .setErrorClass(cut(String.valueOf(errorClass), MAX_ID_CHARS))
                .setErrorMessage(cut(String.valueOf(errorMessage), MAX_MESSAGE_CHARS))
                .setFailedAt(Instant.now())
                .setTransactionId(
                        eventId == null
                                ? null
                                : cut(eventId, MAX_ID_CHARS)) // the wire name of the id
                .build();
    }

    /**
     * {@code letter} with its payload cut by at least {@code excessBytes} more (a copy; the size
     * and SHA-256 of the original stay), for a dead letter that is still too large for its sink.
     */
    public static DeadLetter shrunk(DeadLetter letter, int excessBytes) {
        ByteBuffer payload = letter.getPayload().duplicate();
        int keep = Math.max(0, payload.remaining() - excessBytes - 64);
        byte[] cut = new byte[keep];
        payload.get(cut);
        return DeadLetter.newBuilder(letter)
                .setPayload(ByteBuffer.wrap(cut))
                .setPayloadTruncated(true)
                .setErrorMessage(cut(letter.getErrorMessage(), MAX_ID_CHARS))
                .build();
    }

    /** {@code text} cut to {@code max} characters, ending in "..." when cut. */
    public static String cut(String text, int max) {
        if (text.length() <= max) {
            return text;
        }
        int end = max - ELLIPSIS.length();
        if (Character.isHighSurrogate(text.charAt(end - 1))) {
            end--; // never split a surrogate pair into an unencodable half
        }
        return text.substring(0, end) + ELLIPSIS;
    }

    /** Lowercase hex SHA-256 of {@code bytes}. */
    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }
}
