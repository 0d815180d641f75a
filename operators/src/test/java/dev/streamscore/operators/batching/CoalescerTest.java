package dev.streamscore.operators.batching;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class CoalescerTest {

    private static Coalescer.RowKey key(String streamKey, String model, float... row) {
        return new Coalescer.RowKey(streamKey, model, RowHash.of(row), row);
    }

    private static PendingRow row(Coalescer.RowKey key) {
        return new PendingRow(key, key.streamKey, key.features, key.featureHash, 0);
    }

    @Test
    void anEqualRowOfTheSameKeyAndModelFindsThePendingOne() {
        Coalescer coalescer = new Coalescer();
        PendingRow pending = row(key("card-a", "m:1", 1f, 2f));
        coalescer.register(pending);

        assertThat(coalescer.pending(key("card-a", "m:1", 1f, 2f))).isSameAs(pending);
        assertThat(coalescer.pending(key("card-b", "m:1", 1f, 2f))).as("another key").isNull();
        assertThat(coalescer.pending(key("card-a", "m:2", 1f, 2f))).as("another model").isNull();
        assertThat(coalescer.pending(key("card-a", "m:1", 1f, 3f))).as("another row").isNull();
    }

    @Test
    void rowsCompareBitForBitAsTheCacheDoes() {
        Coalescer coalescer = new Coalescer();
        coalescer.register(row(key("card-a", "m:1", 0f, Float.NaN)));

        assertThat(coalescer.pending(key("card-a", "m:1", 0f, Float.NaN))).isNotNull();
        assertThat(coalescer.pending(key("card-a", "m:1", -0f, Float.NaN))).isNull();
    }

    @Test
    void aCompletedRowIsNoLongerFound() {
        Coalescer coalescer = new Coalescer();
        PendingRow pending = row(key("card-a", "m:1", 1f));
        coalescer.register(pending);

        coalescer.completed(pending);

        assertThat(coalescer.pending(key("card-a", "m:1", 1f))).isNull();
        assertThat(coalescer.size()).isZero();
        // A row without a key (cache off) was never registered; completing it is harmless.
        coalescer.completed(new PendingRow(null, "card-a", new float[] {1f}, 0, 0));
    }
}
