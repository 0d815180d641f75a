package dev.streamscore.operators.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.operators.serde.KafkaRecord;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.ModelAction;
import dev.streamscore.schemas.ModelCommand;
import dev.streamscore.schemas.ModelRole;
import dev.streamscore.schemas.ModelState;
import dev.streamscore.schemas.ModelStatus;
import dev.streamscore.schemas.Stage;
import dev.streamscore.schemas.serde.SingleObjectCodec;
import java.time.Instant;
import java.util.ArrayList;
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
 * Property-based fuzzing of the control topic's path up to the point where a command is applied:
 * random bytes, a valid header with a random body, and valid encodings of commands with random
 * (empty, huge, malformed) fields, some then mutated. Whatever the bytes, the decoder gives a
 * command or exactly one dead letter and never throws; a command is either well formed or has a
 * reason it is refused, and the status record answering it can always be written.
 */
class ModelCommandFuzzTest {

    private static final SingleObjectCodec<ModelCommand> CODEC =
            SingleObjectCodec.of(ModelCommand.class);
    private static final SingleObjectCodec<ModelStatus> STATUSES =
            SingleObjectCodec.of(ModelStatus.class);

    private final ModelCommandDecoder decoder = new ModelCommandDecoder();

    @Property(tries = 20_000, shrinking = ShrinkingMode.BOUNDED, edgeCases = EdgeCasesMode.NONE)
    void anyControlRecordIsACommandOrOneDeadLetterAndEveryCommandGetsAStatus(
            @ForAll("records") byte[] bytes) {
        List<DeadLetter> letters = new ArrayList<>();
        ModelCommand command =
                decoder.decode(new KafkaRecord(bytes, "control", 0, 5, 0), letters::add);
        if (command == null) {
            assertThat(letters).hasSize(1);
            DeadLetter letter = letters.get(0);
            assertThat(letter.getStage()).isEqualTo(Stage.DECODE);
            assertThat(letter.getPayloadSize()).isEqualTo(bytes.length);
            assertThat(letter.getErrorMessage()).isNotBlank();
            Statistics.label("outcome").collect("dead letter");
            return;
        }
        assertThat(letters).isEmpty();
        String problem = ModelCommands.problemWith(command);
        ModelStatus status =
                ModelStatuses.of(
                        command,
                        null,
                        problem == null ? ModelState.ACTIVE : ModelState.REFUSED,
                        problem,
                        0,
                        2,
                        0L,
                        null);
        assertThat(STATUSES.encode(status).length).isLessThan(64 * 1024);
        Statistics.label("outcome").collect(problem == null ? "well formed" : "refused");
        Statistics.label("outcome")
                .coverage(
                        c -> {
                            c.check("dead letter").percentage(p -> p > 10);
                            c.check("refused").percentage(p -> p > 5);
                            c.check("well formed").percentage(p -> p > 5);
                        });
    }

    @Provide
    Arbitrary<byte[]> records() {
        Arbitrary<byte[]> random = Arbitraries.bytes().array(byte[].class).ofMaxSize(300);
        Arbitrary<byte[]> encoded = commands().map(CODEC::encode);
        return Arbitraries.frequencyOf(
                Tuple.of(1, random),
                Tuple.of(1, random.map(body -> concat(header(), body))),
                Tuple.of(4, encoded),
                Tuple.of(
                        2,
                        Combinators.combine(encoded, mutations())
                                .as(ModelCommandFuzzTest::mutate)));
    }

    private static Arbitrary<ModelCommand> commands() {
        Arbitrary<String> text =
                Arbitraries.frequencyOf(
                        Tuple.of(
                                6,
                                Arbitraries.strings()
                                        .alpha()
                                        .numeric()
                                        .ofMinLength(1)
                                        .ofMaxLength(30)),
                        Tuple.of(1, Arbitraries.just("")),
                        Tuple.of(1, Arbitraries.strings().ofMaxLength(300)),
                        Tuple.of(1, Arbitraries.strings().ofLength(5000)));
        Arbitrary<String> optional = Arbitraries.oneOf(text, Arbitraries.just(null));
        Arbitrary<String> sha =
                Arbitraries.oneOf(
                        Arbitraries.strings().withChars("0123456789abcdefABCDEF").ofLength(64),
                        Arbitraries.strings().withChars("0123456789abcdef").ofMaxLength(70),
                        optional);
        return Combinators.combine(
                        text,
                        Arbitraries.of(ModelAction.class),
                        Arbitraries.of(ModelRole.class),
                        optional,
                        optional,
                        optional,
                        sha,
                        Arbitraries.longs())
                .as(
                        (id, action, role, name, version, location, hash, at) ->
                                ModelCommand.newBuilder()
                                        .setCommandId(id)
                                        .setAction(action)
                                        .setRole(role)
                                        .setModelName(name)
                                        .setModelVersion(version)
                                        .setLocation(location)
                                        .setSha256(hash)
                                        .setIssuedAt(Instant.ofEpochMilli(at))
                                        .setIssuedBy(null)
                                        .build());
    }

    private static Arbitrary<int[]> mutations() {
        return Combinators.combine(
                        Arbitraries.integers().between(0, 2),
                        Arbitraries.integers().between(0, 400),
                        Arbitraries.integers().between(0, 255))
                .as((kind, at, value) -> new int[] {kind, at, value});
    }

    private static byte[] mutate(byte[] bytes, int[] m) {
        if (bytes.length == 0) {
            return bytes;
        }
        int at = m[1] % bytes.length;
        return switch (m[0]) {
            case 0 -> {
                byte[] out = bytes.clone();
                out[at] = (byte) m[2];
                yield out;
            }
            case 1 -> java.util.Arrays.copyOf(bytes, at);
            default -> {
                byte[] out = bytes.clone();
                out[at] ^= (byte) (1 << (m[2] % 8));
                yield out;
            }
        };
    }

    private static byte[] header() {
        return java.util.Arrays.copyOf(CODEC.encode(ModelCommands.rollback("fuzz")), 10);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @net.jqwik.api.Example
    void aTooLargeRecordIsADeadLetterUnread() {
        List<DeadLetter> letters = new ArrayList<>();
        byte[] big = new byte[ModelCommandDecoder.MAX_COMMAND_BYTES + 1];
        assertThat(decoder.decode(new KafkaRecord(big, "control", 0, 1, 0), letters::add)).isNull();
        assertThat(letters)
                .singleElement()
                .satisfies(l -> assertThat(l.getErrorMessage()).contains("is not a model command"));
        assertThat(letters.get(0).getPayload().remaining())
                .isEqualTo(Math.min(big.length, DeadLetters.MAX_PAYLOAD_BYTES));
    }
}
