package dev.streamscore.pipeline.events;

import dev.streamscore.pipeline.registry.RegistryException;
import dev.streamscore.pipeline.registry.SchemaRegistryClient;
import dev.streamscore.schemas.serde.AvroReaderLimits;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import org.apache.avro.AvroTypeException;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;

/**
 * Confluent's Avro wire format: byte 0, the writer schema's registry id as 4 bytes big-endian, the
 * Avro binary body. Records are read into the pipeline's reader schema with Avro's schema
 * resolution, so producers may evolve their schema as Avro allows (a field added with a default, a
 * field removed that the reader does not need, a promoted type). A writer schema the reader cannot
 * resolve is refused once per id, with the reason Avro gives.
 *
 * <p>Not thread-safe: one instance per subtask.
 */
public final class ConfluentAvro {

    /** The first byte of every record. */
    public static final byte MAGIC = 0;

    /** Magic byte and schema id. */
    public static final int HEADER_BYTES = 5;

    private final Schema reader;
    private final SchemaRegistryClient registry;
    private final Map<Integer, GenericDatumReader<GenericRecord>> readers = new HashMap<>();
    private final Map<Integer, String> unresolvable = new HashMap<>();
    private final GenericDatumWriter<GenericRecord> writer;
    private final ByteArrayOutputStream buffer = new ByteArrayOutputStream(256);
    private BinaryDecoder decoder;
    private BinaryEncoder encoder;

    public ConfluentAvro(Schema reader, SchemaRegistryClient registry) {
        AvroReaderLimits.apply();
        this.reader = reader;
        this.registry = registry;
        this.writer = new GenericDatumWriter<>(reader);
    }

    /** Whether {@code bytes} start with the wire format's header (magic byte and an id). */
    public static boolean framed(byte[] bytes) {
        return bytes != null && bytes.length >= HEADER_BYTES && bytes[0] == MAGIC;
    }

    /** The schema id in a {@link #framed} record's header. */
    public static int schemaId(byte[] bytes) {
        return (bytes[1] & 0xFF) << 24
                | (bytes[2] & 0xFF) << 16
                | (bytes[3] & 0xFF) << 8
                | (bytes[4] & 0xFF);
    }

    /**
     * The event in {@code bytes}, in the reader schema.
     *
     * @throws DecodeException for bytes without the header, an id the registry does not know or
     *     cannot be asked about (the cause is the {@link RegistryException}), a writer schema that
     *     does not resolve to the reader, or a body that does not decode
     */
    public GenericRecord decode(byte[] bytes) throws DecodeException {
        if (!framed(bytes)) {
            throw new DecodeException(
                    "expected Confluent's Avro wire format (byte 0, a 4-byte schema id, the body),"
                            + " found "
                            + (bytes == null || bytes.length == 0
                                    ? "an empty record"
                                    : bytes.length
                                            + " bytes starting "
                                            + java.util.HexFormat.ofDelimiter(" ")
                                                    .withUpperCase()
                                                    .formatHex(
                                                            bytes,
                                                            0,
                                                            Math.min(bytes.length, HEADER_BYTES))));
        }
        int id = schemaId(bytes);
        if (id < 0) {
            throw new DecodeException("schema id " + id + " is not a registry's: ids are positive");
        }
        GenericDatumReader<GenericRecord> datumReader = readerFor(id);
        try {
            decoder =
                    DecoderFactory.get()
                            .binaryDecoder(
                                    bytes, HEADER_BYTES, bytes.length - HEADER_BYTES, decoder);
            return datumReader.read(null, decoder);
        } catch (IOException | RuntimeException | StackOverflowError e) {
            throw new DecodeException(
                    "body of "
                            + bytes.length
                            + " bytes does not decode with schema id "
                            + id
                            + " as "
                            + reader.getName()
                            + ": "
                            + e,
                    e);
        }
    }

    private GenericDatumReader<GenericRecord> readerFor(int id) throws DecodeException {
        GenericDatumReader<GenericRecord> known = readers.get(id);
        if (known != null) {
            return known;
        }
        String refused = unresolvable.get(id);
        if (refused != null) {
            throw new DecodeException(refused);
        }
        Schema writerSchema;
        try {
            writerSchema = registry.schemaById(id);
        } catch (RegistryException e) {
            throw new DecodeException(e.getMessage(), e);
        }
        SchemaCompatibility.SchemaPairCompatibility compatibility =
                SchemaCompatibility.checkReaderWriterCompatibility(reader, writerSchema);
        if (compatibility.getType() != SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE) {
            String why =
                    "writer schema id "
                            + id
                            + " ("
                            + writerSchema.getFullName()
                            + ") does not resolve to the pipeline's "
                            + reader.getFullName()
                            + ": "
                            + compatibility.getDescription();
            unresolvable.put(id, why);
            throw new DecodeException(why);
        }
        GenericDatumReader<GenericRecord> r;
        try {
            r = new GenericDatumReader<>(writerSchema, reader);
        } catch (AvroTypeException e) {
            throw new DecodeException("writer schema id " + id + ": " + e.getMessage(), e);
        }
        readers.put(id, r);
        return r;
    }

    /** {@code record} (of the reader schema) in the wire format, with schema id {@code id}. */
    public byte[] encode(GenericRecord record, int id) {
        try {
            buffer.reset();
            buffer.write(
                    new byte[] {
                        MAGIC, (byte) (id >>> 24), (byte) (id >>> 16), (byte) (id >>> 8), (byte) id
                    });
            encoder = EncoderFactory.get().binaryEncoder(buffer, encoder);
            writer.write(record, encoder);
            encoder.flush();
            return buffer.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode " + record.getSchema().getName(), e);
        }
    }
}
