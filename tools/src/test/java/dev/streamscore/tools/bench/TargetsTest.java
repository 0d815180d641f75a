package dev.streamscore.tools.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The latency targets of issue 14 as the bench prints them: met and missed, each with its limit.
 */
class TargetsTest {

    private static BenchResults.Setting setting(
            String configuration, String delivery, double... p99AtHalfLoad) {
        List<BenchResults.LoadPoint> points =
                java.util.Arrays.stream(p99AtHalfLoad)
                        .mapToObj(p -> new BenchResults.LoadPoint(50, 1000, 1000, 5, p, p, p, 1))
                        .toList();
        return new BenchResults.Setting(
                configuration + " mlp " + delivery,
                configuration,
                "mlp",
                delivery,
                Map.of(),
                List.of(100_000.0),
                points,
                null);
    }

    @Test
    void checksEachLatencyTargetAgainstTheMedianP99AtHalfLoad() {
        String printed =
                Targets.evaluate(
                        List.of(
                                setting(BenchSpec.CEILING, "at-least-once", 14, 30, 12),
                                setting(BenchSpec.STREAMSCORE, "at-least-once", 26, 20, 30),
                                setting(BenchSpec.CEILING, "exactly-once", 900),
                                setting(BenchSpec.STREAMSCORE, "exactly-once", 1_250)),
                        List.of(),
                        Duration.ofMillis(10),
                        Duration.ofSeconds(1));

        assertThat(printed)
                .contains(
                        "- MET    mlp at-least-once: ceiling p99 at 50% load 14.0 ms; target 15 ms")
                .contains(
                        "- MISSED mlp at-least-once: p99 at 50% load 26.0 ms; target max-wait + 15"
                                + " = 25 ms (bottleneck: unknown)")
                .contains(
                        "- MET    mlp exactly-once: p99 at 50% load 1250.0 ms; target checkpoint"
                                + " interval + 300 = 1300 ms")
                .doesNotContain("ceiling p99 at 50% load 900");
    }
}
