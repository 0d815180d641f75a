package dev.streamscore.tools.bench;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.streamscore.tools.bench.BenchReport.Recommendation;
import dev.streamscore.tools.bench.BenchResults.Environment;
import dev.streamscore.tools.bench.BenchResults.LoadPoint;
import dev.streamscore.tools.bench.BenchResults.ModelCeiling;
import dev.streamscore.tools.bench.BenchResults.Setting;
import dev.streamscore.tools.bench.BenchResults.Stages;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchReportTest {

    private static final Environment ENV =
            new Environment(
                    8,
                    "Eclipse Adoptium 17.0.12",
                    params("Flink", "2.2.1", "ONNX Runtime", "1.22.0", "Kafka", "4.0.0"),
                    "./streamscore bench --rounds 3",
                    "2025-06-01");
    private static final String CAPTION =
            "8 cores; JVM Eclipse Adoptium 17.0.12; Flink 2.2.1, ONNX Runtime 1.22.0, Kafka 4.0.0;"
                    + " 2025-06-01";

    private static final Stages INFERENCE_BOUND =
            new Stages(2.0, 3.5, 0.0, 12.3, 1.1, 4.0, 2.5, 60.0, 0.0, 0.1, 0.03);
    private static final Stages DECODE_BOUND =
            new Stages(9.0, 3.5, 0.4, 6.0, 1.1, 9.0, 3.0, 120.0, 0.3, 0.1, 0.03);

    /** Median max 41,000 events/s; median p99 at 50% load 11 ms. */
    private static final Setting BATCHED =
            setting(
                    "streamscore gbdt at-least-once b64",
                    "streamscore",
                    "at-least-once",
                    params("batch-size", "64", "max-wait-ms", "5"),
                    List.of(40_000.0, 42_000.0, 41_000.0),
                    List.of(10.0, 12.0, 11.0),
                    INFERENCE_BOUND);

    /** Faster, but its p99 (32 ms) is over a 20 ms target. */
    private static final Setting CACHED_OVER_TARGET =
            setting(
                    "streamscore+cache gbdt at-least-once b256",
                    "streamscore+cache",
                    "at-least-once",
                    params("batch-size", "256", "max-wait-ms", "20", "cache", "on"),
                    List.of(50_000.0, 52_000.0),
                    List.of(30.0, 34.0),
                    DECODE_BOUND);

    /** Fastest and within the target, but a baseline: never recommended. */
    private static final Setting BASELINE =
            setting(
                    "per-record-async \"baseline\", gbdt",
                    "per-record-async",
                    "at-least-once",
                    params("in-flight", "100"),
                    List.of(90_000.0),
                    List.of(2.0),
                    null);

    private static final Setting SLOWER =
            setting(
                    "streamscore gbdt at-least-once b8",
                    "streamscore",
                    "at-least-once",
                    params("batch-size", "8"),
                    List.of(30_000.0),
                    List.of(5.0),
                    INFERENCE_BOUND);

    /** Faster than every at-least-once setting within the target, but another delivery. */
    private static final Setting EXACTLY_ONCE =
            setting(
                    "streamscore gbdt exactly-once <b64>",
                    "streamscore",
                    "exactly-once",
                    params("batch-size", "64", "max-wait-ms", "5"),
                    List.of(45_000.0),
                    List.of(15.0),
                    INFERENCE_BOUND);

    private static final List<Setting> ALL =
            List.of(BATCHED, CACHED_OVER_TARGET, BASELINE, SLOWER, EXACTLY_ONCE);
    private static final List<ModelCeiling> CEILINGS =
            List.of(
                    new ModelCeiling("gbdt", 64, 2, 250_000.0, 4_000.0),
                    new ModelCeiling("mlp", 256, 2, 120_000.5, 2_000.0));

    @Test
    void medianOfOddCountIsTheMiddleValueAndOfEvenCountTheMeanOfTheMiddleTwo() {
        assertThat(BenchReport.median(List.of(3.0, 1.0, 2.0))).isEqualTo(2.0);
        assertThat(BenchReport.median(List.of(4.0, 1.0, 3.0, 2.0))).isEqualTo(2.5);
        assertThat(BenchReport.median(List.of(7.0))).isEqualTo(7.0);
        assertThat(BenchReport.median(List.of())).isNaN();
    }

    @Test
    void bottleneckNamesTheStageWithTheHighestCostPerEvent() {
        assertThat(BenchReport.bottleneck(INFERENCE_BOUND))
                .isEqualTo("inference (12.3 \u00b5s/event)");
        assertThat(BenchReport.bottleneck(DECODE_BOUND)).isEqualTo("decode (9.0 \u00b5s/event)");
        assertThat(BenchReport.bottleneck(null)).isEqualTo("unknown");
    }

    @Test
    void recommendsTheFastestStreamscoreSettingWithinTheTargetForThatDelivery() {
        Recommendation pick =
                BenchReport.recommend(ALL, Duration.ofMillis(20), "at-least-once").orElseThrow();
        assertThat(pick.setting()).isEqualTo(BATCHED);
        assertThat(pick.maxThroughput()).isEqualTo(41_000.0);
        assertThat(pick.p99Ms()).isEqualTo(11.0);
        assertThat(pick.reason()).contains("41,000 events/s", "11.0 ms", "20.0 ms");

        assertThat(BenchReport.recommend(ALL, Duration.ofMillis(20), "exactly-once"))
                .map(Recommendation::setting)
                .contains(EXACTLY_ONCE);
        assertThat(BenchReport.recommend(ALL, Duration.ofMillis(4), "at-least-once")).isEmpty();
        assertThat(BenchReport.recommend(List.of(BASELINE), Duration.ofSeconds(1), "at-least-once"))
                .isEmpty();
    }

    @Test
    void recommendBreaksAThroughputTieWithTheLowerP99() {
        Setting sameThroughputLowerP99 =
                setting(
                        "streamscore gbdt at-least-once b32",
                        "streamscore",
                        "at-least-once",
                        params("batch-size", "32"),
                        List.of(41_000.0),
                        List.of(8.0),
                        INFERENCE_BOUND);
        Optional<Recommendation> pick =
                BenchReport.recommend(
                        List.of(BATCHED, sameThroughputLowerP99),
                        Duration.ofMillis(20),
                        "at-least-once");
        assertThat(pick).map(Recommendation::setting).contains(sameThroughputLowerP99);
    }

    @Test
    void markdownTableHasOneRowPerSettingWithMediansOverRounds() {
        List<String> lines = BenchReport.markdownTable(ALL).lines().toList();
        assertThat(lines).hasSize(2 + ALL.size());
        assertThat(lines.get(2))
                .isEqualTo(
                        "| streamscore gbdt at-least-once b64 | 41,000 (40,000\u201342,000, 3 runs)"
                            + " | 2.8 / 11.0 / 16.5 | 5.5 | 16.5 | inference (12.3 \u00b5s/event)"
                            + " |");
        assertThat(lines.get(4)).contains("| 90,000 (1 run) |").endsWith("| unknown |");
    }

    @Test
    void csvHasOneRowPerRoundAndPhasePlusCeilingsWithQuotedFields(@TempDir Path dir)
            throws Exception {
        Path file = dir.resolve("bench.csv");
        BenchReport.writeCsv(file, ENV, ALL, CEILINGS);
        List<String> lines = Files.readAllLines(file, UTF_8);

        assertThat(lines.subList(0, 5))
                .containsExactly(
                        "# cores: 8",
                        "# jvm: Eclipse Adoptium 17.0.12",
                        "# versions: Flink 2.2.1, ONNX Runtime 1.22.0, Kafka 4.0.0",
                        "# command: ./streamscore bench --rounds 3",
                        "# date: 2025-06-01");
        assertThat(lines.get(5))
                .isEqualTo(
                        "label,configuration,model,delivery,batch-size,max-wait-ms,cache,in-flight,"
                                + "threads,round,phase,load_percent,offered_rate,achieved_rate,"
                                + "max_throughput,p50_ms,p99_ms,p999_ms,max_ms");
        // Per setting: one max row and three load rows per round (3 + 2 + 1 + 1 + 1 rounds).
        assertThat(lines).hasSize(5 + 1 + 8 * 4 + CEILINGS.size());
        assertThat(lines)
                .contains(
                        "streamscore gbdt at-least-once b64,streamscore,gbdt,at-least-once,"
                                + "64,5,,,,1,max,,,,40000,,,,",
                        "streamscore gbdt at-least-once b64,streamscore,gbdt,at-least-once,"
                                + "64,5,,,,2,load,50,20500,20400,,3,12,18,24",
                        "\"per-record-async \"\"baseline\"\", gbdt\",per-record-async,gbdt,"
                                + "at-least-once,,,,100,,1,max,,,,90000,,,,",
                        "model-alone gbdt batch 64,model-alone,gbdt,,64,,,,2,,max,,,,250000,,,,",
                        "model-alone mlp batch 256,model-alone,mlp,,256,,,,2,,max,,,,120000.5,,,,");
    }

    @Test
    void htmlIsSelfContainedAndShowsEnvironmentLabelsAndRecommendation(@TempDir Path dir)
            throws Exception {
        Path file = dir.resolve("bench.html");
        BenchReport.writeHtml(file, ENV, ALL, CEILINGS, Duration.ofMillis(20));
        String html = Files.readString(file, UTF_8);

        assertThat(html).startsWith("<!DOCTYPE html>").contains("<style>");
        assertThat(count(html, "<svg")).isEqualTo(3);
        assertThat(html).doesNotContain("<script", "<link", "http://", "https://", "url(");
        assertThat(html).contains("Eclipse Adoptium 17.0.12", "ONNX Runtime 1.22.0", "Flink 2.2.1");
        // Under the table and every figure, and once under the ceilings table.
        assertThat(count(html, CAPTION)).isEqualTo(5);
        for (Setting s : ALL) {
            assertThat(html).contains(escape(s.label()));
        }
        assertThat(html).doesNotContain("<b64>").contains("&lt;b64&gt;");
        assertThat(html)
                .contains("<h2>Recommendation</h2>")
                .contains(
                        "<strong>at-least-once</strong>: streamscore gbdt at-least-once b64"
                                + " &mdash;")
                .contains(
                        "<strong>exactly-once</strong>: streamscore gbdt exactly-once &lt;b64&gt;")
                .contains("bottleneck: inference (12.3 \u00b5s/event)")
                .contains("250,000");

        BenchReport.writeHtml(file, ENV, ALL, CEILINGS, Duration.ofMillis(4));
        assertThat(Files.readString(file, UTF_8))
                .contains(
                        "<strong>at-least-once</strong>: no streamscore setting met the target;"
                                + " the closest was streamscore gbdt at-least-once b8 with p99 5.0"
                                + " ms.");
        BenchReport.writeHtml(file, ENV, ALL, CEILINGS, null);
        assertThat(Files.readString(file, UTF_8)).doesNotContain("Recommendation");
    }

    @Test
    void manySettingsGetDistinctMarkerShapesAndDashes(@TempDir Path dir) throws Exception {
        List<Setting> settings = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            settings.add(
                    setting(
                            "streamscore sweep " + i,
                            "streamscore",
                            "at-least-once",
                            params("batch-size", "" + (i + 1)),
                            List.of(10_000.0 + i * 1_000),
                            List.of(1.0 + i),
                            INFERENCE_BOUND));
        }
        Path file = dir.resolve("sweep.html");
        BenchReport.writeHtml(file, ENV, settings, List.of(), null);
        String html = Files.readString(file, UTF_8);
        assertThat(count(html, "<polyline")).isEqualTo(30);
        assertThat(html)
                .contains("<circle", "stroke-dasharray:7 3", "stroke-dasharray:2 3")
                .contains("streamscore sweep 29");
        assertThat(count(html, "<polygon")).isGreaterThanOrEqualTo(10 * 4);
    }

    /**
     * A setting measured in {@code p99At50.size()} rounds: in round r, loads of 25, 50 and 75% with
     * a p99 proportional to the load, p50 a quarter, p99.9 1.5 times and max twice the p99.
     */
    private static Setting setting(
            String label,
            String configuration,
            String delivery,
            Map<String, String> parameters,
            List<Double> maxThroughput,
            List<Double> p99At50,
            Stages stages) {
        double max = BenchReport.median(maxThroughput);
        List<LoadPoint> latency = new ArrayList<>();
        for (int round = 1; round <= p99At50.size(); round++) {
            for (int load : new int[] {25, 50, 75}) {
                double offered = max * load / 100;
                double p99 = p99At50.get(round - 1) * load / 50;
                latency.add(
                        new LoadPoint(
                                load,
                                offered,
                                offered - 100,
                                p99 / 4,
                                p99,
                                p99 * 1.5,
                                p99 * 2,
                                round));
            }
        }
        return new Setting(
                label, configuration, "gbdt", delivery, parameters, maxThroughput, latency, stages);
    }

    private static Map<String, String> params(String... keysAndValues) {
        Map<String, String> map = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            map.put(keysAndValues[i], keysAndValues[i + 1]);
        }
        return map;
    }

    private static int count(String text, String part) {
        int n = 0;
        for (int at = text.indexOf(part); at >= 0; at = text.indexOf(part, at + part.length())) {
            n++;
        }
        return n;
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;")
                .replace("<", "&lt;")
                .replace(">", "&gt;")
                .replace("\"", "&quot;");
    }
}
