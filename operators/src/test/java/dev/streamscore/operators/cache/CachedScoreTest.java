package dev.streamscore.operators.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.junit.jupiter.api.Test;

class CachedScoreTest {

    private static final float[] VECTOR = {0.5f, -1f, 0f};

    @Test
    void matchesOnlyTheSameModelVersionAndTheExactVector() {
        CachedScore entry = new CachedScore("gbdt:3", 0.7f, VECTOR.clone());

        assertThat(entry.matches("gbdt:3", new float[] {0.5f, -1f, 0f})).isTrue();
        assertThat(entry.matches("gbdt:4", VECTOR)).isFalse();
        assertThat(entry.matches("gbdt:3", new float[] {0.5f, -1f, 1e-7f})).isFalse();
        assertThat(entry.matches("gbdt:3", new float[] {0.5f, -1f})).isFalse();
        // Bit-for-bit, as PipelineEvent.featureHash() hashes: -0.0 is another vector.
        assertThat(entry.matches("gbdt:3", new float[] {0.5f, -1f, -0f})).isFalse();
    }

    @Test
    void theStateExpiresByProcessingTimeOnWriteAndNeverReturnsExpiredEntries() {
        MapStateDescriptor<Long, CachedScore> descriptor =
                ScoreCache.descriptor(Duration.ofMinutes(10));
        StateTtlConfig ttl = descriptor.getTtlConfig();

        assertThat(descriptor.getName()).isEqualTo(ScoreCache.STATE_NAME);
        assertThat(ttl.isEnabled()).isTrue();
        assertThat(ttl.getTimeToLive()).isEqualTo(Duration.ofMinutes(10));
        assertThat(ttl.getUpdateType()).isEqualTo(StateTtlConfig.UpdateType.OnCreateAndWrite);
        assertThat(ttl.getStateVisibility())
                .isEqualTo(StateTtlConfig.StateVisibility.NeverReturnExpired);
        assertThat(ttl.getCleanupStrategies().inFullSnapshot()).isTrue();
        assertThat(ttl.getCleanupStrategies().getRocksdbCompactFilterCleanupStrategy()).isNotNull();
    }

    @Test
    void refusesATtlBelowOneMillisecond() {
        assertThatThrownBy(() -> ScoreCache.descriptor(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("score cache TTL must be at least 1 ms, found PT0S");
    }
}
