package dev.streamscore.operators.serde;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.operators.deadletter.DeadLetters;
import dev.streamscore.schemas.DeadLetter;
import dev.streamscore.schemas.Stage;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every record of the committed corpus ({@code src/test/resources/decode-corpus/}, written by
 * {@link DecodeCorpus}) becomes exactly one dead letter of the stage its name gives, through the
 * decoder as the job runs it.
 */
class DecodeCorpusTest {

    private static final long NOW = DecodeCorpus.NOW.toEpochMilli();

    static Stream<Path> corpus() throws Exception {
        return Files.list(directory()).filter(p -> p.toString().endsWith(".bin")).sorted();
    }

    private static Path directory() throws URISyntaxException {
        return Path.of(DecodeCorpusTest.class.getResource("/" + DecodeCorpus.DIRECTORY).toURI());
    }

    @Test
    void holdsEveryKindTheWriterKnows() throws Exception {
        List<String> files = corpus().map(p -> p.getFileName().toString()).toList();
        for (String kind : DecodeCorpus.cases().keySet()) {
            assertThat(files).contains(kind + ".bin");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corpus")
    void eachRecordIsOneDeadLetterOfItsStage(Path file) throws Exception {
        byte[] bytes = Files.readAllBytes(file);
        String name = file.getFileName().toString();
        Stage expected =
                Stage.valueOf(name.substring(0, name.indexOf("--")).toUpperCase(Locale.ROOT));

        List<DeadLetter> letters = new ArrayList<>();
        SourcedTransaction out =
                new TransactionDecoder()
                        .decode(
                                new KafkaRecord(bytes, "transactions", 0, 1, 0),
                                NOW,
                                (letter, ignored) -> letters.add(letter),
                                null);

        assertThat(out).isNull();
        assertThat(letters).hasSize(1);
        DeadLetter letter = letters.get(0);
        assertThat(letter.getStage()).as(letter.getErrorMessage()).isEqualTo(expected);
        assertThat(letter.getPayloadSize()).isEqualTo(bytes.length);
        assertThat(letter.getPayloadSha256()).isEqualTo(DeadLetters.sha256(bytes));
        assertThat(letter.getErrorMessage()).isNotBlank();
    }

    @Test
    void theRunningOperatorTurnsTheWholeCorpusIntoDeadLettersAndKeepsGoing() throws Exception {
        List<Path> files = corpus().toList();
        try (var h = ProcessFunctionTestHarnesses.forProcessFunction(new TransactionDecoder())) {
            long offset = 0;
            for (Path file : files) {
                h.processElement(new KafkaRecord(Files.readAllBytes(file), "t", 0, offset++, 0), 0);
            }
            byte[] valid =
                    HostileInputs.CODEC.encode(
                            HostileInputs.transaction("tx-after", java.time.Instant.now()));
            h.processElement(new KafkaRecord(valid, "t", 0, offset, 0), 0);

            assertThat(h.extractOutputValues())
                    .singleElement()
                    .satisfies(
                            t ->
                                    assertThat(t.transaction.getTransactionId())
                                            .isEqualTo("tx-after"));
            assertThat(h.getSideOutput(DeadLetters.TAG).stream().map(StreamRecord::getValue))
                    .hasSize(files.size());
        }
    }
}
