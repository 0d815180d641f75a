package dev.streamscore.operators.feedback;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.operators.serde.KafkaRecord;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.FraudLabel;
import dev.streamscore.schemas.LabelSource;
import dev.streamscore.schemas.LabelValue;
import dev.streamscore.schemas.Stage;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.Tuple;
import net.jqwik.api.statistics.Statistics;

/**
 * Property-based fuzzing of the labels topic's decoder: random bytes, and valid encodings of random
 * labels (ids up to past the limit, times from far past to far future) put through up to three
 * mutations (flipped, overwritten or inserted bytes, an Avro length from 0 to far beyond the heap,
 * a cut). Whatever the bytes, a valid label or exactly one dead letter, never an exception.
 */
class LabelDecoderFuzzTest {

    private static final long NOW = Instant.parse("2026-12-01T00:00:00Z").toEpochMilli();
    private static final SingleObjectCodec<FraudLabel> CODEC =
            SingleObjectCodec.of(FraudLabel.class);

    private final LabelDecoder decoder = new LabelDecoder(Duration.ofMinutes(5));

    @Property(tries = 30_000, shrinking = ShrinkingMode.BOUNDED, edgeCases = EdgeCasesMode.NONE)
    void anyBytesGiveAValidLabelOrExactlyOneDeadLetter(@ForAll("records") byte[] bytes) {
        List<DeadLetter> letters = new ArrayList<>();
        FraudLabel label =
                decoder.decode(new KafkaRecord(bytes, "labels", 1, 9, 0), NOW, letters::add);
        if (label != null) {
            assertThat(letters).isEmpty();
            assertThat(LabelDecoder.problemWith(label, NOW)).isNull();
            assertThat(CODEC.encode(label)).isNotEmpty();
            Statistics.label("outcome").collect("valid");
            return;
        }
        assertThat(letters).hasSize(1);
        DeadLetter letter = letters.get(0);
        assertThat(letter.getStage()).isIn(Stage.DECODE, Stage.VALIDATE);
        assertThat(letter.getPayloadSize()).isEqualTo(bytes.length);
        assertThat(letter.getPayloadSha256()).isEqualTo(DeadLetters.sha256(bytes));
        assertThat(letter.getErrorMessage()).isNotBlank();
        assertThat(letter.getSourceTopic()).isEqualTo("labels");
        Statistics.label("outcome").collect(letter.getStage().name());
        Statistics.label("outcome")
                .coverage(
                        c -> {
                            c.check("DECODE").percentage(p -> p > 20);
                            c.check("VALIDATE").percentage(p -> p > 5);
                            c.check("valid").percentage(p -> p > 5);
                        });
    }

    @Provide
    Arbitrary<byte[]> records() {
        return Arbitraries.frequencyOf(
                Tuple.of(1, Arbitraries.bytes().array(byte[].class).ofMaxSize(200)),
                Tuple.of(4, mutatedEncodings()));
    }

    private static Arbitrary<byte[]> mutatedEncodings() {
        Arbitrary<FraudLabel> labels =
                Combinators.combine(
                                Arbitraries.strings().ofMinLength(0).ofMaxLength(140),
                                Arbitraries.of(LabelValue.class),
                                Arbitraries.of(LabelSource.class),
                                Arbitraries.oneOf(
                                        Arbitraries.longs().between(NOW - 86_400_000L * 400, NOW),
                                        Arbitraries.longs()
                                                .between(
                                                        -62_135_596_800_000L,
                                                        253_402_300_799_000L)))
                        .as(
                                (id, value, source, at) ->
                                        FraudLabel.newBuilder()
                                                .setTransactionId(id)
                                                .setLabel(value)
                                                .setSource(source)
                                                .setLabelledAt(Instant.ofEpochMilli(at))
                                                .build());
        Arbitrary<int[]> mutation =
                Combinators.combine(
                                Arbitraries.integers().between(0, 4),
                                Arbitraries.integers().between(0, 500),
                                Arbitraries.integers())
                        .as((kind, at, value) -> new int[] {kind, at, value});
        return Combinators.combine(labels, mutation.list().ofMaxSize(3))
                .as(
                        (label, changes) -> {
                            byte[] bytes = CODEC.encode(label);
                            for (int[] m : changes) {
                                bytes = mutate(bytes, m[0], m[1], m[2]);
                            }
                            return bytes;
                        });
    }

    private static byte[] mutate(byte[] bytes, int kind, int at, int value) {
        if (bytes.length == 0) {
            return bytes;
        }
        int i = at % bytes.length;
        byte[] b = bytes.clone();
        switch (kind) {
            case 0 -> b[i] ^= (byte) (1 << (value & 7));
            case 1 -> b[i] = (byte) value;
            case 2 -> {
                // An Avro length (zig-zag varint) from small to far past any heap.
                long length = (value & 1) == 0 ? value & 0xff : ((long) value << 20);
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                out.write(b, 0, i);
                long z = (length << 1) ^ (length >> 63);
                while ((z & ~0x7fL) != 0) {
                    out.write((int) ((z & 0x7f) | 0x80));
                    z >>>= 7;
                }
                out.write((int) z);
                out.write(b, i, b.length - i);
                return out.toByteArray();
            }
            case 3 -> {
                return Arrays.copyOf(b, i);
            }
            default -> {
                byte[] longer = Arrays.copyOf(b, b.length + 1);
                System.arraycopy(b, i, longer, i + 1, b.length - i);
                longer[i] = (byte) value;
                return longer;
            }
        }
        return b;
    }
}
