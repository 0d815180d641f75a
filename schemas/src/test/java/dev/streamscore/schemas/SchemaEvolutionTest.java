package dev.streamscore.schemas;

import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.schemas.serde.SchemaHistory;
import java.util.List;
import java.util.stream.Stream;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaCompatibility.SchemaCompatibilityType;
import org.apache.avro.SchemaNormalization;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Fails the build when a schema change would break reading data written with an earlier version, or
 * when a schema changed without its new version being added to {@code schemas/history/}.
 */
class SchemaEvolutionTest {

    static Stream<Schema> currentSchemas() {
        return Stream.of(
                Transaction.getClassSchema(),
                FraudScore.getClassSchema(),
                DeadLetter.getClassSchema(),
                ModelCommand.getClassSchema(),
                ModelStatus.getClassSchema(),
                FeatureLogEntry.getClassSchema(),
                FraudLabel.getClassSchema(),
                ModelQuality.getClassSchema());
    }

    @ParameterizedTest
    @MethodSource("currentSchemas")
    void currentSchemaCanReadEveryPublishedVersion(Schema current) {
        for (Schema writer : SchemaHistory.versionsOf(current.getName())) {
            assertReads(
                    current, writer, "reading " + current.getName() + " written with " + writer);
        }
    }

    /** {@code reader} resolves data written with {@code writer}; {@code what} says which pair. */
    private static void assertReads(Schema reader, Schema writer, String what) {
        SchemaCompatibility.SchemaPairCompatibility result =
                SchemaCompatibility.checkReaderWriterCompatibility(reader, writer);
        assertThat(result.getType())
                .as("%s: %s", what, result.getDescription())
                .isEqualTo(SchemaCompatibilityType.COMPATIBLE);
    }

    /** What the job writes for others to read: their readers may be older than the job. */
    static Stream<Schema> outputSchemas() {
        return Stream.of(
                FraudScore.getClassSchema(),
                DeadLetter.getClassSchema(),
                ModelStatus.getClassSchema(),
                FeatureLogEntry.getClassSchema(),
                ModelQuality.getClassSchema());
    }

    @ParameterizedTest
    @MethodSource("outputSchemas")
    void everyPublishedVersionCanReadTheCurrentOne(Schema current) {
        for (Schema reader : SchemaHistory.versionsOf(current.getName())) {
            assertReads(
                    reader,
                    current,
                    "an older reader (" + reader + ") reading the current " + current.getName());
        }
    }

    @ParameterizedTest
    @MethodSource("currentSchemas")
    void currentSchemaIsTheNewestPublishedVersion(Schema current) {
        // The fingerprint on the wire is of the parsing canonical form: what every reader must
        // know.
        List<Schema> versions = SchemaHistory.versionsOf(current.getName());
        assertThat(SchemaNormalization.parsingFingerprint64(versions.get(versions.size() - 1)))
                .as(
                        "schemas/history/%s/v%d.avsc must be the current %s.avsc: a changed schema"
                                + " is published by adding it as the next version",
                        current.getName(), versions.size(), current.getName())
                .isEqualTo(SchemaNormalization.parsingFingerprint64(current));
    }
}
