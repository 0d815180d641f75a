package dev.streamscore.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The pipelines under pipelines/ read, check against their models, and compute what they say. */
class BundledPipelinesTest {

    static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    static final Path PAYOUTS = ROOT.resolve("pipelines/examples/payouts/payouts.yaml");

    @Test
    void cardFraudFileChecksAgainstTheBundledGbdt() throws Exception {
        Pipeline p =
                Pipeline.load(ROOT.resolve("pipelines/card-fraud.yaml").toString(), null, true);
        assertThat(p.name()).isEqualTo("card-fraud");
        assertThat(p.featureNames()).hasSize(18).startsWith("amount_log", "card_present");
        assertThat(p.modelDescriptor().features()).isEqualTo(p.featureNames());
        assertThat(p.keyField()).isEqualTo("card_id");
        assertThat(p.outputSchema().getFullName()).isEqualTo("dev.streamscore.schemas.FraudScore");
        // The file's schemas are the very ones the demo, the probe and consumers compile against:
        // the same fingerprint, which single-object encoding writes in every record's header.
        assertThat(org.apache.avro.SchemaNormalization.parsingFingerprint64(p.inputSchema()))
                .isEqualTo(
                        org.apache.avro.SchemaNormalization.parsingFingerprint64(
                                dev.streamscore.schemas.Transaction.getClassSchema()));
        assertThat(org.apache.avro.SchemaNormalization.parsingFingerprint64(p.outputSchema()))
                .isEqualTo(
                        org.apache.avro.SchemaNormalization.parsingFingerprint64(
                                dev.streamscore.schemas.FraudScore.getClassSchema()));
        assertThat(p.deadLetterTopic()).isEqualTo("transactions-dead-letter");
        // Every feature and aggregate expression of the card-fraud file runs on the fast path.
        Pipeline.Compiled c = p.newEngine(1024);
        assertThat(c.engine()).isNotNull();
    }

    @Test
    void payoutsExampleChecksAgainstItsModelWithAGeneratedOutputSchema() throws Exception {
        Pipeline p = Pipeline.load(PAYOUTS.toString(), null, true);
        assertThat(p.inputFormat()).isEqualTo(Pipeline.Format.JSON);
        assertThat(p.outputSchemaGenerated()).isTrue();
        assertThat(p.outputSchema().getField("payout_id")).isNotNull();
        assertThat(p.outputSchema().getField("merchant_id")).isNotNull();
        assertThat(p.outputSchema().getField("requested_at")).isNotNull();
        assertThat(p.outputSchema().getField("model_sha256")).isNotNull();
        assertThat(p.model()).endsWith("pipelines/examples/payouts/model");
    }

    /**
     * The payouts example's expected-features.csv was computed by an independent Python
     * implementation of the semantics (train.py): the engine must agree on every 10th event.
     */
    @Test
    void payoutsFeaturesEqualAnIndependentImplementation() throws Exception {
        Pipeline p = Pipeline.load(PAYOUTS.toString(), null, false);
        List<OfflineFeatures.Row> rows =
                OfflineFeatures.compute(
                        p, OfflineFeatures.read(p, PAYOUTS.resolveSibling("events.jsonl")));
        Map<String, OfflineFeatures.Row> byId = new HashMap<>();
        rows.forEach(r -> byId.put(r.id(), r));
        List<String> lines = Files.readAllLines(PAYOUTS.resolveSibling("expected-features.csv"));
        String[] header = lines.get(0).split(",");
        int idColumn = List.of(header).indexOf("payout_id");
        List<String> names = p.featureNames();
        int compared = 0;
        for (String line : lines.subList(1, lines.size())) {
            String[] cells = line.split(",");
            OfflineFeatures.Row row = byId.get(cells[idColumn]);
            assertThat(row).as(cells[idColumn]).isNotNull();
            assertThat(row.error()).as(cells[idColumn]).isNull();
            for (int f = 0; f < names.size(); f++) {
                int col = List.of(header).indexOf(names.get(f));
                double expected = Double.parseDouble(cells[col]);
                assertThat((double) row.features()[f])
                        .as(cells[idColumn] + " " + names.get(f))
                        .isCloseTo(
                                (double) (float) expected,
                                org.assertj.core.data.Offset.offset(1e-6));
            }
            compared++;
        }
        assertThat(compared).isGreaterThan(300);
    }
}
