package dev.streamscore.pipeline.events;

import dev.streamscore.schemas.serde.AvroReaderLimits;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.message.BadHeaderException;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.message.MissingSchemaException;

/**
 * Events of one Avro schema as bytes: Avro single-object encoding (header {@code C3 01}, the writer
 * schema's 8-byte fingerprint, the binary body) as the {@code avro} format reads and writes it, and
 * the bare binary body that events travel in between operators. Not thread-safe (it reuses its
 * decoders); one instance per subtask.
 */
public final class AvroEvents {

    private final Schema schema;
    private final BinaryMessageDecoder<GenericRecord> messages;
    private final BinaryMessageEncoder<GenericRecord> messageWriter;
    private final GenericDatumReader<GenericRecord> reader;
    private final GenericDatumWriter<GenericRecord> writer;
    private final ByteArrayOutputStream buffer = new ByteArrayOutputStream(256);
    private BinaryDecoder decoder;
    private BinaryEncoder encoder;

    public AvroEvents(Schema schema) {
        AvroReaderLimits.apply();
        this.schema = schema;
        this.messages = new BinaryMessageDecoder<>(GenericData.get(), schema);
        this.messageWriter = new BinaryMessageEncoder<>(GenericData.get(), schema);
        this.reader = new GenericDatumReader<>(schema);
        this.writer = new GenericDatumWriter<>(schema);
    }

    /** Lets records written with {@code writer} (an older or newer version) be read too. */
    public void addWriterSchema(Schema writer) {
        messages.addSchema(writer);
    }

    public Schema schema() {
        return schema;
    }

    /** One single-object encoded event, resolved into this schema. */
    public GenericRecord decodeMessage(byte[] bytes) throws DecodeException {
        if (bytes == null || bytes.length == 0) {
            throw new DecodeException(
                    "expected an Avro single-object encoded "
                            + schema.getName()
                            + ", found an empty record");
        }
        try {
            return messages.decode(bytes);
        } catch (BadHeaderException e) {
            throw new DecodeException(
                    "expected Avro single-object header C3 01 + 8-byte fingerprint, found "
                            + SingleObjectCodec.headerHex(bytes)
                            + " ("
                            + bytes.length
                            + " bytes)",
                    e);
        } catch (MissingSchemaException e) {
            throw new DecodeException(
                    "writer schema fingerprint "
                            + SingleObjectCodec.headerHex(bytes)
                            + " is not "
                            + schema.getFullName()
                            + " or a version of it this pipeline knows",
                    e);
        } catch (IOException | RuntimeException e) {
            throw new DecodeException(
                    "body of "
                            + bytes.length
                            + " bytes does not decode as "
                            + schema.getName()
                            + ": "
                            + e.getMessage(),
                    e);
        }
    }

    /** {@code record} single-object encoded with this schema. */
    public byte[] encodeMessage(GenericRecord record) {
        try {
            ByteBuffer b = messageWriter.encode(record);
            byte[] bytes = new byte[b.remaining()];
            b.get(bytes);
            return bytes;
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode " + schema.getName(), e);
        }
    }

    /** The binary body of {@code record} (no header). */
    public byte[] toBinary(GenericRecord record) {
        buffer.reset();
        encoder = EncoderFactory.get().directBinaryEncoder(buffer, encoder);
        try {
            writer.write(record, encoder);
            encoder.flush();
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode " + schema.getName(), e);
        }
        return buffer.toByteArray();
    }

    /** A binary body written by {@link #toBinary} with the same schema. */
    public GenericRecord fromBinary(byte[] body) {
        decoder = DecoderFactory.get().binaryDecoder(body, decoder);
        try {
            return reader.read(null, decoder);
        } catch (IOException e) {
            throw new IllegalStateException(
                    "an event body of " + body.length + " bytes does not read back", e);
        }
    }
}
