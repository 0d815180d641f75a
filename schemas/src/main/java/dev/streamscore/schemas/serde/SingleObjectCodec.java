package dev.streamscore.schemas.serde;

import java.io.IOException;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.util.Objects;
import org.apache.avro.Schema;
import org.apache.avro.message.BadHeaderException;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.message.MissingSchemaException;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;

/**
 * Avro single-object encoding (header {@code C3 01}, 8-byte little-endian CRC-64-AVRO fingerprint
 * of the writer schema, binary body) for one generated record type.
 *
 * <p>This is the wire format of every streamscore topic: any Avro library in any language can write
 * and read it without a schema registry. The decoder knows every published version of the schema
 * (see {@link SchemaHistory}) and resolves older writers into the current reader schema.
 *
 * <pre>{@code
 * SingleObjectCodec<Transaction> codec = SingleObjectCodec.of(Transaction.class);
 * byte[] bytes = codec.encode(txn);
 * Transaction back = codec.decode(bytes); // throws DecodeException on bad bytes
 * }</pre>
 *
 * <p>Decoding never allocates more for one string, bytes value or collection than {@link
 * AvroReaderLimits} allows, whatever length the bytes claim.
 *
 * <p>Instances are serializable (only the class travels) and build their Avro machinery lazily, so
 * they can be fields of Flink functions. Encoding and decoding are thread-safe.
 */
public final class SingleObjectCodec<T extends SpecificRecord> implements Serializable {

    private static final long serialVersionUID = 1L;

    private final Class<T> type;
    private final java.util.List<String> extraWriterSchemas;
    private transient BinaryMessageEncoder<T> encoder;
    private transient BinaryMessageDecoder<T> decoder;

    private SingleObjectCodec(Class<T> type, java.util.List<String> extraWriterSchemas) {
        this.type = Objects.requireNonNull(type, "type");
        this.extraWriterSchemas = java.util.List.copyOf(extraWriterSchemas);
    }

    /** The record class this codec reads and writes. */
    public Class<T> type() {
        return type;
    }

    /** A codec for a class generated from {@code schemas/src/main/avro}. */
    public static <T extends SpecificRecord> SingleObjectCodec<T> of(Class<T> type) {
        return new SingleObjectCodec<>(type, java.util.List.of());
    }

    /**
     * A codec that also resolves the given writer schemas (JSON), beyond the published history: for
     * reading data of producers whose schema was never published here.
     */
    public static <T extends SpecificRecord> SingleObjectCodec<T> withWriterSchemas(
            Class<T> type, java.util.List<Schema> writers) {
        return new SingleObjectCodec<>(type, writers.stream().map(Schema::toString).toList());
    }

    /** The current (reader) schema of the type. */
    public Schema schema() {
        return SpecificData.get().getSchema(type);
    }

    public byte[] encode(T record) {
        try {
            ByteBuffer buffer = encoder().encode(record);
            byte[] bytes = new byte[buffer.remaining()];
            buffer.get(bytes);
            return bytes;
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode " + type.getSimpleName(), e);
        }
    }

    /**
     * Decodes one message.
     *
     * @throws DecodeException with a message that says what was wrong: not single-object encoded,
     *     an unknown writer fingerprint, or a body that does not match the writer schema
     */
    public T decode(byte[] bytes) throws DecodeException {
        if (bytes == null || bytes.length == 0) {
            throw new DecodeException(
                    "expected an Avro single-object encoded "
                            + type.getSimpleName()
                            + ", found an empty record");
        }
        try {
            return decoder().decode(bytes);
        } catch (BadHeaderException e) {
            throw new DecodeException(
                    "expected Avro single-object header C3 01 + 8-byte fingerprint, found "
                            + headerHex(bytes)
                            + " ("
                            + bytes.length
                            + " bytes)",
                    e);
        } catch (MissingSchemaException e) {
            throw new DecodeException(
                    "writer schema fingerprint "
                            + headerHex(bytes)
                            + " is not a known version of "
                            + type.getSimpleName(),
                    e);
        } catch (IOException | RuntimeException e) {
            // Avro's own exceptions, and what its reader throws beyond them on hostile bytes
            // (UnsupportedOperationException for lengths past the VM limit, index errors, ...).
            throw new DecodeException(
                    "body of "
                            + bytes.length
                            + " bytes does not decode as "
                            + type.getSimpleName()
                            + ": "
                            + e.getMessage(),
                    e);
        }
    }

    private BinaryMessageEncoder<T> encoder() {
        if (encoder == null) {
            encoder = new BinaryMessageEncoder<>(SpecificData.getForClass(type), schema());
        }
        return encoder;
    }

    private BinaryMessageDecoder<T> decoder() {
        if (decoder == null) {
            AvroReaderLimits.apply();
            BinaryMessageDecoder<T> d =
                    new BinaryMessageDecoder<>(SpecificData.getForClass(type), schema());
            for (Schema writer : SchemaHistory.versionsOf(type.getSimpleName())) {
                d.addSchema(writer);
            }
            for (String writer : extraWriterSchemas) {
                d.addSchema(new Schema.Parser().parse(writer));
            }
            decoder = d;
        }
        return decoder;
    }

    /**
     * The first 10 bytes of a record in hex, the header apart from the fingerprint ({@code C301
     * 8DA1...}): what a decode error shows of a record that is not what it should be.
     */
    public static String headerHex(byte[] bytes) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(10, bytes.length); i++) {
            sb.append(String.format("%02X", bytes[i] & 0xff));
            if (i == 1) {
                sb.append(' ');
            }
        }
        return sb.toString();
    }

    /** A record that is not a valid single-object encoding of the expected type. */
    public static final class DecodeException extends Exception {
        private static final long serialVersionUID = 1L;

        public DecodeException(String message) {
            super(message);
        }

        public DecodeException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
