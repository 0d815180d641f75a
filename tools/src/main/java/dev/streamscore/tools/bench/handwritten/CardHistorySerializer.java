package dev.streamscore.tools.bench.handwritten;

import dev.streamscore.testkit.cardfraud.CardHistory;
import java.io.IOException;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSchemaCompatibility;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.base.TypeSerializerSingleton;
import org.apache.flink.api.java.typeutils.runtime.PojoSerializerSnapshot;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;

/**
 * The card history's state format: only the remembered entries (not the arrays' spare capacity),
 * times as variable-length offsets (event times from the card's newest transaction, the remembered
 * ids' arrival times from the newest arrival), amounts and countries as variable-length integers,
 * the small-e-commerce flags as bits. Flink's POJO serializer, which wrote the history before,
 * spent most of the feature state's time per event on reflection, null flags and whole arrays
 * (BENCHMARKS.md, "Feature state").
 *
 * <p>Savepoints: {@link Snapshot} declares a history written by the POJO serializer compatible
 * after migration, so Flink rewrites it in this format when a job restores from a savepoint taken
 * before (on RocksDB, state by state at restore). A later format bumps {@link
 * Snapshot#getCurrentVersion()} and keeps reading this one the same way.
 */
public final class CardHistorySerializer extends TypeSerializerSingleton<CardHistory> {

    private static final long serialVersionUID = 1L;

    public static final CardHistorySerializer INSTANCE = new CardHistorySerializer();

    /** Longest feature vector accepted when reading: anything longer is a corrupt value. */
    static final int MAX_FEATURES = 4096;

    @Override
    public boolean isImmutableType() {
        return false;
    }

    @Override
    public CardHistory createInstance() {
        return new CardHistory();
    }

    @Override
    public CardHistory copy(CardHistory from) {
        CardHistory to = new CardHistory();
        to.homeCountry = from.homeCountry;
        to.previousCountry = from.previousCountry;
        to.previousEventTime = from.previousEventTime;
        to.transactionCount = from.transactionCount;
        to.meanAmountMinor = from.meanAmountMinor;
        to.recentTimes = from.recentTimes.clone();
        to.recentAmounts = from.recentAmounts.clone();
        to.recentCountries = from.recentCountries.clone();
        to.recentSmallEcom = from.recentSmallEcom.clone();
        to.recentSize = from.recentSize;
        to.seenIds = from.seenIds.clone();
        to.seenTimes = from.seenTimes.clone();
        to.seenFeatures = new float[from.seenFeatures.length][];
        for (int i = 0; i < from.seenSize; i++) {
            to.seenFeatures[i] = from.seenFeatures[i].clone();
        }
        to.seenSize = from.seenSize;
        to.spilledUntil = from.spilledUntil;
        return to;
    }

    @Override
    public CardHistory copy(CardHistory from, CardHistory reuse) {
        return copy(from);
    }

    @Override
    public int getLength() {
        return -1;
    }

    @Override
    public void serialize(CardHistory h, DataOutputView out) throws IOException {
        out.writeInt(h.homeCountry);
        out.writeInt(h.previousCountry);
        out.writeLong(h.previousEventTime);
        writeVarLong(out, h.transactionCount);
        out.writeDouble(h.meanAmountMinor);
        int n = h.recentSize;
        writeVarLong(out, n);
        for (int i = 0; i < n; i++) {
            writeVarLong(out, zigZag(h.previousEventTime - h.recentTimes[i]));
            writeVarLong(out, zigZag(h.recentAmounts[i]));
            writeVarLong(out, zigZag(h.recentCountries[i]));
        }
        for (int i = 0; i < n; i += 8) {
            int bits = 0;
            for (int b = 0; b < 8 && i + b < n; b++) {
                if (h.recentSmallEcom[i + b]) {
                    bits |= 1 << b;
                }
            }
            out.writeByte(bits);
        }
        writeVarLong(out, h.seenSize);
        long newestSeen = h.seenSize == 0 ? 0 : h.seenTimes[h.seenSize - 1];
        if (h.seenSize > 0) {
            // Arrival time, near the newest event time when events are live: a short offset.
            writeVarLong(out, zigZag(newestSeen - h.previousEventTime));
        }
        for (int i = 0; i < h.seenSize; i++) {
            out.writeLong(h.seenIds[i]);
            writeVarLong(out, zigZag(newestSeen - h.seenTimes[i]));
            float[] f = h.seenFeatures[i];
            writeVarLong(out, f.length);
            for (float v : f) {
                out.writeFloat(v);
            }
        }
        out.writeBoolean(h.spilledUntil != 0);
        if (h.spilledUntil != 0) {
            writeVarLong(out, zigZag(h.spilledUntil - h.previousEventTime));
        }
    }

    @Override
    public CardHistory deserialize(DataInputView in) throws IOException {
        CardHistory h = new CardHistory();
        h.homeCountry = in.readInt();
        h.previousCountry = in.readInt();
        h.previousEventTime = in.readLong();
        h.transactionCount = readVarLong(in);
        h.meanAmountMinor = in.readDouble();
        int n = readSize(in, CardHistory.MAX_RECENT, "recent transactions");
        // One spare slot: the transaction being enriched is appended without growing the arrays.
        int capacity = Math.min(CardHistory.MAX_RECENT, n + 1);
        h.recentTimes = new long[capacity];
        h.recentAmounts = new long[capacity];
        h.recentCountries = new int[capacity];
        h.recentSmallEcom = new boolean[capacity];
        for (int i = 0; i < n; i++) {
            h.recentTimes[i] = h.previousEventTime - unZigZag(readVarLong(in));
            h.recentAmounts[i] = unZigZag(readVarLong(in));
            h.recentCountries[i] = (int) unZigZag(readVarLong(in));
        }
        for (int i = 0; i < n; i += 8) {
            int bits = in.readUnsignedByte();
            for (int b = 0; b < 8 && i + b < n; b++) {
                h.recentSmallEcom[i + b] = (bits & (1 << b)) != 0;
            }
        }
        h.recentSize = n;
        int seen = readSize(in, CardHistory.MAX_SEEN, "remembered transaction ids");
        int seenCapacity = Math.min(CardHistory.MAX_SEEN, seen + 1);
        h.seenIds = new long[seenCapacity];
        h.seenTimes = new long[seenCapacity];
        h.seenFeatures = new float[seenCapacity][];
        long newestSeen = seen == 0 ? 0 : h.previousEventTime + unZigZag(readVarLong(in));
        for (int i = 0; i < seen; i++) {
            h.seenIds[i] = in.readLong();
            h.seenTimes[i] = newestSeen - unZigZag(readVarLong(in));
            float[] f = new float[readSize(in, MAX_FEATURES, "features")];
            for (int j = 0; j < f.length; j++) {
                f[j] = in.readFloat();
            }
            h.seenFeatures[i] = f;
        }
        h.seenSize = seen;
        h.spilledUntil = in.readBoolean() ? h.previousEventTime + unZigZag(readVarLong(in)) : 0;
        return h;
    }

    @Override
    public CardHistory deserialize(CardHistory reuse, DataInputView in) throws IOException {
        return deserialize(in);
    }

    @Override
    public void copy(DataInputView in, DataOutputView out) throws IOException {
        serialize(deserialize(in), out);
    }

    @Override
    public TypeSerializerSnapshot<CardHistory> snapshotConfiguration() {
        return new Snapshot();
    }

    private static int readSize(DataInputView in, int max, String what) throws IOException {
        long n = readVarLong(in);
        if (n < 0 || n > max) {
            throw new IOException(
                    "corrupt card history: " + n + " " + what + ", at most " + max + " expected");
        }
        return (int) n;
    }

    /** Length, then each UTF-16 unit as a variable-length number: any string round-trips. */
    private static long zigZag(long v) {
        return (v << 1) ^ (v >> 63);
    }

    private static long unZigZag(long v) {
        return (v >>> 1) ^ -(v & 1);
    }

    private static void writeVarLong(DataOutputView out, long v) throws IOException {
        while ((v & ~0x7FL) != 0) {
            out.writeByte((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.writeByte((int) v);
    }

    private static long readVarLong(DataInputView in) throws IOException {
        long v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            int b = in.readUnsignedByte();
            v |= (long) (b & 0x7F) << shift;
            if ((b & 0x80) == 0) {
                return v;
            }
        }
        throw new IOException("corrupt card history: a variable-length number runs past 64 bits");
    }

    /**
     * The format's version and how it reads older ones: the POJO serializer's savepoints migrate.
     */
    public static final class Snapshot implements TypeSerializerSnapshot<CardHistory> {

        private static final int VERSION = 1;

        @Override
        public int getCurrentVersion() {
            return VERSION;
        }

        @Override
        public void writeSnapshot(DataOutputView out) {}

        @Override
        public void readSnapshot(int readVersion, DataInputView in, ClassLoader classLoader)
                throws IOException {
            if (readVersion != VERSION) {
                throw new IOException(
                        "card history state format "
                                + readVersion
                                + " was written by another streamscore; this one reads "
                                + VERSION);
            }
        }

        @Override
        public TypeSerializer<CardHistory> restoreSerializer() {
            return INSTANCE;
        }

        @Override
        public TypeSerializerSchemaCompatibility<CardHistory> resolveSchemaCompatibility(
                TypeSerializerSnapshot<CardHistory> oldSnapshot) {
            if (oldSnapshot instanceof Snapshot) {
                return TypeSerializerSchemaCompatibility.compatibleAsIs();
            }
            if (oldSnapshot instanceof PojoSerializerSnapshot) {
                return TypeSerializerSchemaCompatibility.compatibleAfterMigration();
            }
            return TypeSerializerSchemaCompatibility.incompatible();
        }
    }
}
