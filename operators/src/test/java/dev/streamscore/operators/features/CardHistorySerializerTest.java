package dev.streamscore.operators.features;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.streamscore.schemas.Channel;
import dev.streamscore.schemas.Transaction;
import java.io.EOFException;
import java.io.IOException;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.base.StringSerializer;
import org.apache.flink.api.java.typeutils.PojoTypeInfo;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.junit.jupiter.api.Test;

/**
 * The compact card-history format: whatever history the feature code builds reads back the same,
 * its features go on the same, and whatever bytes it is given it either reads a bounded history or
 * fails with an {@link IOException}, never an out-of-memory or a runtime exception.
 */
class CardHistorySerializerTest {

    private static final CardHistorySerializer SERIALIZER = CardHistorySerializer.INSTANCE;
    private static final long T0 = Instant.parse("2026-11-02T12:00:00Z").toEpochMilli();

    /** A history built by the feature code from random transactions, with re-send memory. */
    @Provide
    Arbitrary<List<Transaction>> histories() {
        Arbitrary<Transaction> txn =
                Combinators.combine(
                                Arbitraries.longs().between(-90_000_000L, 90_000_000L),
                                Arbitraries.longs().between(0, 10_000_000_000L),
                                Arbitraries.of("DE", "FR", "NL", "GB", "XXX", ""),
                                Arbitraries.of(Channel.class),
                                Arbitraries.strings().ofMinLength(1).ofMaxLength(40))
                        .as(
                                (offset, amount, country, channel, id) ->
                                        Transaction.newBuilder()
                                                .setTransactionId(id)
                                                .setCardId("card")
                                                .setMerchantId("m")
                                                .setMerchantCategory("5411")
                                                .setAmountMinor(amount)
                                                .setCurrency("EUR")
                                                .setCountry(country)
                                                .setChannel(channel)
                                                .setCardPresent(channel != Channel.ECOM)
                                                .setEventTime(Instant.ofEpochMilli(T0 + offset))
                                                .build());
        return txn.list().ofMaxSize(700);
    }

    @Property(tries = 300)
    void whatTheFeatureCodeBuildsReadsBackTheSame(@ForAll("histories") List<Transaction> txns)
            throws IOException {
        CardHistory h = new CardHistory();
        for (Transaction t : txns) {
            float[] f = CardFeatures.computeAndUpdate(h, t);
            remember(h, t, t.getEventTime().toEpochMilli(), f);
        }
        CardHistory back = roundTrip(h);
        assertSameHistory(back, h);
        assertSameHistory(SERIALIZER.copy(h), h);

        // And it goes on the same: the next transaction's features and history match.
        Transaction next = txns.isEmpty() ? null : txns.get(0);
        if (next != null) {
            assertThat(CardFeatures.computeAndUpdate(back, next))
                    .containsExactly(CardFeatures.computeAndUpdate(h, next));
            assertSameHistory(back, h);
        }
    }

    @Property(tries = 20_000)
    void anyBytesReadAsABoundedHistoryOrAnIoException(@ForAll("bytes") byte[] bytes) {
        try {
            CardHistory h = SERIALIZER.deserialize(new DataInputDeserializer(bytes));
            assertThat(h.recentSize).isBetween(0, CardHistory.MAX_RECENT);
            assertThat(h.seenSize).isBetween(0, CardHistory.MAX_SEEN);
        } catch (IOException expected) {
            // EOF or a size beyond the bounds: the state backend reports it with the key
        }
    }

    /** Random bytes, and valid encodings with a few bytes overwritten or cut. */
    @Provide
    Arbitrary<byte[]> bytes() {
        Arbitrary<byte[]> random = Arbitraries.bytes().array(byte[].class).ofMaxSize(4_000);
        Arbitrary<byte[]> mutated =
                Combinators.combine(
                                histories(),
                                Arbitraries.integers().between(0, 1 << 20),
                                Arbitraries.bytes(),
                                Arbitraries.integers().between(0, 100))
                        .as(
                                (txns, where, value, cut) -> {
                                    CardHistory h = new CardHistory();
                                    for (Transaction t : txns) {
                                        float[] f = CardFeatures.computeAndUpdate(h, t);
                                        remember(h, t, t.getEventTime().toEpochMilli(), f);
                                    }
                                    byte[] b = serialize(h);
                                    b[where % b.length] = value;
                                    return Arrays.copyOf(b, b.length - cut % b.length);
                                });
        return Arbitraries.oneOf(random, mutated);
    }

    @Test
    void aLengthFarBeyondTheBoundsIsACorruptValueNotAnAllocation() {
        byte[] huge = {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0x0F};
        byte[] head = new byte[4 + 4 + 8 + 1 + 8];
        byte[] bytes = new byte[head.length + huge.length];
        System.arraycopy(huge, 0, bytes, head.length, huge.length);
        assertThatThrownBy(() -> SERIALIZER.deserialize(new DataInputDeserializer(bytes)))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("4294967295 recent transactions, at most 512");
        assertThatThrownBy(() -> SERIALIZER.deserialize(new DataInputDeserializer(new byte[3])))
                .isInstanceOf(EOFException.class);
    }

    @Test
    void aHistoryWrittenByThePojoSerializerMigratesAndItsOwnFormatIsCompatibleAsIs() {
        @SuppressWarnings("unchecked")
        TypeSerializerSnapshot<CardHistory> pojo =
                ((PojoTypeInfo<CardHistory>) TypeInformation.of(CardHistory.class))
                        .createSerializer(new SerializerConfigImpl())
                        .snapshotConfiguration();
        TypeSerializerSnapshot<CardHistory> ours = SERIALIZER.snapshotConfiguration();
        assertThat(ours.resolveSchemaCompatibility(pojo).isCompatibleAfterMigration()).isTrue();
        assertThat(ours.resolveSchemaCompatibility(ours).isCompatibleAsIs()).isTrue();
        @SuppressWarnings({"unchecked", "rawtypes"})
        TypeSerializerSnapshot<CardHistory> strings =
                (TypeSerializerSnapshot) StringSerializer.INSTANCE.snapshotConfiguration();
        assertThat(ours.resolveSchemaCompatibility(strings).isIncompatible()).isTrue();
    }

    @Test
    void writesOnlyWhatItRemembers() throws IOException {
        CardHistory h = new CardHistory();
        Transaction t =
                Transaction.newBuilder()
                        .setTransactionId("00000000-0000-0000-0000-000000000001")
                        .setCardId("card")
                        .setMerchantId("m")
                        .setMerchantCategory("5411")
                        .setAmountMinor(2_500)
                        .setCurrency("EUR")
                        .setCountry("DE")
                        .setChannel(Channel.POS)
                        .setCardPresent(true)
                        .setEventTime(Instant.ofEpochMilli(T0))
                        .build();
        float[] f = CardFeatures.computeAndUpdate(h, t);
        remember(h, t, T0, f);
        // 25 fixed bytes, one recent transaction (about 6 bytes), one id hash with its time and 18
        // floats (8 + 1 + 1 + 72), 3 for the counts and the spill mark: the POJO serializer wrote
        // 4-slot arrays, null flags and 25 more.
        assertThat(serialize(h).length).isLessThan(120);
    }

    /**
     * Remembers {@code t} as arrived at {@code now}, with a one-hour window; spills are dropped.
     */
    private static void remember(CardHistory h, Transaction t, long now, float[] f) {
        try {
            h.remember(
                    CardHistory.idHash(t.getTransactionId()),
                    now,
                    f,
                    3_600_000L,
                    (id, at, features) -> {});
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static CardHistory roundTrip(CardHistory h) throws IOException {
        return SERIALIZER.deserialize(new DataInputDeserializer(serialize(h)));
    }

    private static byte[] serialize(CardHistory h) {
        DataOutputSerializer out = new DataOutputSerializer(256);
        try {
            SERIALIZER.serialize(h, out);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return out.getCopyOfBuffer();
    }

    static void assertSameHistory(CardHistory actual, CardHistory expected) {
        assertThat(actual.homeCountry).isEqualTo(expected.homeCountry);
        assertThat(actual.previousCountry).isEqualTo(expected.previousCountry);
        assertThat(actual.previousEventTime).isEqualTo(expected.previousEventTime);
        assertThat(actual.transactionCount).isEqualTo(expected.transactionCount);
        assertThat(actual.meanAmountMinor).isEqualTo(expected.meanAmountMinor);
        int n = expected.recentSize;
        assertThat(actual.recentSize).isEqualTo(n);
        assertThat(Arrays.copyOf(actual.recentTimes, n))
                .containsExactly(Arrays.copyOf(expected.recentTimes, n));
        assertThat(Arrays.copyOf(actual.recentAmounts, n))
                .containsExactly(Arrays.copyOf(expected.recentAmounts, n));
        assertThat(Arrays.copyOf(actual.recentCountries, n))
                .containsExactly(Arrays.copyOf(expected.recentCountries, n));
        assertThat(Arrays.copyOf(actual.recentSmallEcom, n))
                .containsExactly(Arrays.copyOf(expected.recentSmallEcom, n));
        int s = expected.seenSize;
        assertThat(actual.seenSize).isEqualTo(s);
        assertThat(Arrays.copyOf(actual.seenIds, s))
                .containsExactly(Arrays.copyOf(expected.seenIds, s));
        assertThat(Arrays.copyOf(actual.seenTimes, s))
                .containsExactly(Arrays.copyOf(expected.seenTimes, s));
        for (int i = 0; i < s; i++) {
            assertThat(actual.seenFeatures[i]).containsExactly(expected.seenFeatures[i]);
        }
        assertThat(actual.spilledUntil).isEqualTo(expected.spilledUntil);
    }
}
