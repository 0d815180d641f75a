package dev.streamscore.operators.batching;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.Meter;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.junit.jupiter.api.Test;

class BatchingMetricsTest {

    @Test
    void registersExactlyTheDocumentedMetricNames() {
        List<String> registered = new ArrayList<>();
        UnregisteredMetricsGroup group =
                new UnregisteredMetricsGroup() {
                    @Override
                    public Counter counter(String name) {
                        registered.add(name);
                        return super.counter(name);
                    }

                    @Override
                    public <T, G extends Gauge<T>> G gauge(String name, G gauge) {
                        registered.add(name);
                        return gauge;
                    }

                    @Override
                    public <H extends Histogram> H histogram(String name, H histogram) {
                        registered.add(name);
                        return histogram;
                    }

                    @Override
                    public <M extends Meter> M meter(String name, M meter) {
                        registered.add(name);
                        return meter;
                    }
                };

        new BatchingMetrics(group, () -> 0, () -> 1, () -> 2, () -> "m:1", () -> "cpu");

        assertThat(registered).containsExactlyInAnyOrderElementsOf(BatchingMetrics.NAMES);
    }
}
