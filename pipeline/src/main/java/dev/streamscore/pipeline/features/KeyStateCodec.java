package dev.streamscore.pipeline.features;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@link KeyState} to bytes and back, for keyed state, compactly: a version byte, the fingerprint
 * of the aggregates and features it was written for, then the state's numbers (whole numbers as
 * variable-length integers, the ring's times as differences) and values (each object column's
 * distinct values once, then an index per event). State written for other aggregates or features
 * (the file changed between two runs) reads as {@code null}: that key starts afresh rather than
 * reading one aggregate's values as another's, or serving a re-send a row of other features.
 *
 * <p>Not thread-safe: one instance per subtask (it reuses its buffer).
 */
public final class KeyStateCodec implements Serializable {

    private static final long serialVersionUID = 2L;

    /** The format written; version 2 (every aggregate field in full) is still read. */
    private static final byte VERSION = 3;

    private static final byte VERSION_2 = 2;

    // Which of an aggregate's fields follow its mask byte (version 3).
    private static final int RUN_COUNT = 1;
    private static final int RUN_SUM = 2;
    private static final int RUN_MEAN = 4;
    private static final int EV_NUM = 8;
    private static final int EV_TIME = 16;
    private static final int EV_OBJ = 32;
    private static final int EV_DISTINCT = 64;
    private static final long NAN_BITS = Double.doubleToRawLongBits(Double.NaN);

    private static final byte EXCLUDED = 0;
    private static final byte NULL = 1;
    private static final byte STRING = 2;
    private static final byte LONG = 3;
    private static final byte DOUBLE = 4;
    private static final byte TRUE = 5;
    private static final byte FALSE = 6;

    private final StateLayout layout;
    private final long fingerprint;
    private transient Out out;

    /**
     * @param fingerprintLines everything the state's meaning depends on (each aggregate in full,
     *     the features): the state's fingerprint
     */
    public KeyStateCodec(StateLayout layout, List<String> fingerprintLines) {
        this.layout = layout;
        long h = 1125899906842597L;
        for (String line : fingerprintLines) {
            h = 31 * h + KeyState.idHash(line);
        }
        for (String line : layout.describe()) {
            h = 31 * h + KeyState.idHash(line);
        }
        fingerprint = h;
    }

    public byte[] encode(KeyState s) {
        if (out == null) {
            out = new Out();
        }
        Out o = out;
        o.pos = 0;
        o.ensure(64);
        o.buf[o.pos++] = VERSION;
        o.putLong(fingerprint);
        o.putVarLong(s.received);
        o.putLong(s.newest);
        // Times as differences from the newest event's: short numbers when events are live.
        o.putVarLong(s.evictedUntil == Long.MIN_VALUE ? 0 : 1);
        if (s.evictedUntil != Long.MIN_VALUE) {
            o.putVarLong(zigzag(s.newest - s.evictedUntil));
        }
        int n = layout.aggregates();
        for (int a = 0; a < n; a++) {
            // Most of an aggregate's fields are unused (a count keeps no mean, a last no sum): a
            // byte says which are not at their initial value, and only those follow.
            Set<Object> distinct = s.evDistinct[a];
            int mask =
                    (Double.doubleToRawLongBits(s.runCount[a]) != 0 ? RUN_COUNT : 0)
                            | (Double.doubleToRawLongBits(s.runSum[a]) != 0 ? RUN_SUM : 0)
                            | (Double.doubleToRawLongBits(s.runMean[a]) != 0 ? RUN_MEAN : 0)
                            | (Double.doubleToRawLongBits(s.evNum[a]) != NAN_BITS ? EV_NUM : 0)
                            | (s.evTime[a] != Long.MIN_VALUE ? EV_TIME : 0)
                            | (s.evObj[a] != null ? EV_OBJ : 0)
                            | (distinct != null && !distinct.isEmpty() ? EV_DISTINCT : 0);
            o.ensure(1);
            o.buf[o.pos++] = (byte) mask;
            if ((mask & RUN_COUNT) != 0) {
                o.putNumber(s.runCount[a]);
            }
            if ((mask & RUN_SUM) != 0) {
                o.putNumber(s.runSum[a]);
            }
            if ((mask & RUN_MEAN) != 0) {
                o.putNumber(s.runMean[a]);
            }
            if ((mask & EV_NUM) != 0) {
                o.putNumber(s.evNum[a]);
            }
            if ((mask & EV_TIME) != 0) {
                o.putVarLong(zigzag(s.newest - s.evTime[a]));
            }
            if ((mask & EV_OBJ) != 0) {
                o.putValue(s.evObj[a]);
            }
            if ((mask & EV_DISTINCT) != 0) {
                o.putVarLong(distinct.size());
                for (Object v : distinct) {
                    o.putValue(v);
                }
            }
        }
        o.putVarLong(s.size);
        long previous = s.newest;
        for (int i = 0; i < s.size; i++) {
            o.putVarLong(zigzag(s.times[i] - previous));
            previous = s.times[i];
        }
        for (int c = 0; c < layout.columns(); c++) {
            if (layout.numeric(c)) {
                putNumbers(o, s.num[c], s.size);
            } else {
                putObjects(o, s.obj[c], s.size);
            }
        }
        o.putVarLong(s.seenSize);
        if (s.seenSize > 0) {
            // Arrival times (processing time) as differences from the newest arrival's.
            long newestSeen = s.seenTimes[s.seenSize - 1];
            o.putVarLong(zigzag(newestSeen));
            for (int i = 0; i < s.seenSize; i++) {
                o.putLong(s.seenIds[i]);
                o.putVarLong(zigzag(newestSeen - s.seenTimes[i]));
                float[] f = s.seenFeatures[i];
                o.putVarLong(f.length);
                o.ensure(4 * f.length);
                for (float v : f) {
                    o.putInt(Float.floatToRawIntBits(v));
                }
            }
        }
        o.putVarLong(zigzag(s.spilledUntil));
        return Arrays.copyOf(o.buf, o.pos);
    }

    /** A numeric column: whole numbers as variable-length integers (0 for "not counted"). */
    private static void putNumbers(Out o, double[] values, int size) {
        boolean whole = true;
        for (int i = 0; i < size && whole; i++) {
            double v = values[i];
            whole =
                    Double.isNaN(v)
                            || (v == Math.rint(v)
                                    && Math.abs(v) < 0x1p52
                                    && Double.doubleToRawLongBits(v) != Long.MIN_VALUE);
        }
        o.ensure(1);
        o.buf[o.pos++] = (byte) (whole ? 1 : 0);
        for (int i = 0; i < size; i++) {
            double v = values[i];
            if (!whole) {
                o.putDouble(v);
            } else {
                o.putVarLong(Double.isNaN(v) ? 0 : zigzag((long) v) + 1);
            }
        }
    }

    /** An object column: its distinct values once, then one index per event. */
    private static void putObjects(Out o, Object[] values, int size) {
        // Few distinct values as a rule (a card's countries): a linear search beats a map.
        Object[] distinct = new Object[Math.min(size, 16)];
        int count = 0;
        int[] at = new int[size];
        Map<Object, Integer> index = null;
        for (int i = 0; i < size; i++) {
            Object v = values[i];
            int k = -1;
            if (index == null) {
                for (int j = 0; j < count; j++) {
                    Object d = distinct[j];
                    if (d == v || (d != null && d != KeyState.EXCLUDED && d.equals(v))) {
                        k = j;
                        break;
                    }
                }
                if (k < 0 && count == distinct.length && size > distinct.length) {
                    index = new HashMap<>();
                    for (int j = 0; j < count; j++) {
                        index.put(key(distinct[j]), j);
                    }
                }
            }
            if (index != null) {
                Integer found = index.get(key(v));
                k = found == null ? -1 : found;
            }
            if (k < 0) {
                if (count == distinct.length) {
                    distinct = Arrays.copyOf(distinct, Math.max(4, count * 2));
                }
                k = count;
                distinct[count++] = v;
                if (index != null) {
                    index.put(key(v), k);
                }
            }
            at[i] = k;
        }
        o.putVarLong(count);
        for (int j = 0; j < count; j++) {
            o.putValue(distinct[j]);
        }
        for (int i = 0; i < size; i++) {
            o.putVarLong(at[i]);
        }
    }

    private static Object key(Object v) {
        return v == KeyState.EXCLUDED ? ExcludedKey.INSTANCE : v == null ? NullKey.INSTANCE : v;
    }

    private enum ExcludedKey {
        INSTANCE
    }

    private enum NullKey {
        INSTANCE
    }

    /** The state in {@code bytes}, or {@code null} if they were written for another file. */
    public KeyState decode(byte[] bytes) {
        In in = new In(bytes);
        try {
            byte version = in.get();
            if ((version != VERSION && version != VERSION_2) || in.getLong() != fingerprint) {
                return null;
            }
            boolean v2 = version == VERSION_2;
            int n = layout.aggregates();
            KeyState s = new KeyState(n, layout.columns());
            s.received = in.getVarLong();
            s.newest = in.getLong();
            if (v2) {
                s.evictedUntil = in.getLong();
            } else {
                byte evicted = in.get();
                if (evicted != 0 && evicted != 1) {
                    throw new IllegalStateException("evicted flag " + evicted);
                }
                s.evictedUntil =
                        evicted == 0 ? Long.MIN_VALUE : s.newest - unzigzag(in.getVarLong());
            }
            for (int a = 0; a < n; a++) {
                int mask = v2 ? -1 : in.get() & 0xFF;
                if (v2) {
                    s.runCount[a] = in.getDouble();
                    s.runSum[a] = in.getDouble();
                    s.runMean[a] = in.getDouble();
                    s.evNum[a] = in.getDouble();
                    s.evTime[a] = in.getLong();
                    s.evObj[a] = in.getValue();
                } else {
                    if ((mask & ~0x7F) != 0) {
                        throw new IllegalStateException("unknown aggregate fields " + mask);
                    }
                    if ((mask & RUN_COUNT) != 0) {
                        s.runCount[a] = in.getNumber();
                    }
                    if ((mask & RUN_SUM) != 0) {
                        s.runSum[a] = in.getNumber();
                    }
                    if ((mask & RUN_MEAN) != 0) {
                        s.runMean[a] = in.getNumber();
                    }
                    if ((mask & EV_NUM) != 0) {
                        s.evNum[a] = in.getNumber();
                    }
                    if ((mask & EV_TIME) != 0) {
                        s.evTime[a] = s.newest - unzigzag(in.getVarLong());
                    }
                    if ((mask & EV_OBJ) != 0) {
                        s.evObj[a] = in.getValue();
                    }
                }
                int d = (mask & EV_DISTINCT) != 0 ? in.getCount() : 0;
                if (d > 0) {
                    Set<Object> set = new HashSet<>();
                    for (int i = 0; i < d; i++) {
                        set.add(in.getValue());
                    }
                    s.evDistinct[a] = set;
                }
            }
            int size = in.getCount();
            int capacity = Math.max(4, size);
            s.size = size;
            s.times = new long[capacity];
            long previous = v2 ? 0 : s.newest;
            for (int i = 0; i < size; i++) {
                previous += unzigzag(in.getVarLong());
                s.times[i] = previous;
            }
            for (int c = 0; c < layout.columns(); c++) {
                if (layout.numeric(c)) {
                    double[] col = new double[capacity];
                    boolean whole = in.get() == 1;
                    for (int i = 0; i < size; i++) {
                        if (whole) {
                            long v = in.getVarLong();
                            col[i] = v == 0 ? Double.NaN : unzigzag(v - 1);
                        } else {
                            col[i] = in.getDouble();
                        }
                    }
                    s.num[c] = col;
                } else {
                    int d = in.getCount();
                    Object[] distinct = new Object[d];
                    for (int i = 0; i < d; i++) {
                        distinct[i] = in.getValue();
                    }
                    Object[] col = new Object[capacity];
                    for (int i = 0; i < size; i++) {
                        col[i] = distinct[(int) in.getVarLong()];
                    }
                    s.obj[c] = col;
                }
            }
            int seen = in.getCount();
            int seenCapacity = Math.max(2, seen);
            s.seenSize = seen;
            s.seenIds = new long[seenCapacity];
            s.seenTimes = new long[seenCapacity];
            s.seenFeatures = new float[seenCapacity][];
            long newestSeen = v2 || seen == 0 ? 0 : unzigzag(in.getVarLong());
            for (int i = 0; i < seen; i++) {
                s.seenIds[i] = in.getLong();
                long t = unzigzag(in.getVarLong());
                s.seenTimes[i] = v2 ? t : newestSeen - t;
                float[] f = new float[in.getCount()];
                for (int k = 0; k < f.length; k++) {
                    f[k] = Float.intBitsToFloat(in.getInt());
                }
                s.seenFeatures[i] = f;
            }
            s.spilledUntil = unzigzag(in.getVarLong());
            return s;
        } catch (RuntimeException e) {
            throw new IllegalStateException(
                    "key state of " + bytes.length + " bytes is corrupt: " + e, e);
        }
    }

    private static long zigzag(long v) {
        return (v << 1) ^ (v >> 63);
    }

    private static long unzigzag(long v) {
        return (v >>> 1) ^ -(v & 1);
    }

    /** A growable buffer written big-endian, with variable-length longs. */
    private static final class Out {
        byte[] buf = new byte[256];
        int pos;

        void ensure(int more) {
            if (pos + more > buf.length) {
                buf = Arrays.copyOf(buf, Math.max(buf.length * 2, pos + more));
            }
        }

        void putLong(long v) {
            ensure(8);
            for (int shift = 56; shift >= 0; shift -= 8) {
                buf[pos++] = (byte) (v >>> shift);
            }
        }

        void putInt(int v) {
            ensure(4);
            buf[pos++] = (byte) (v >>> 24);
            buf[pos++] = (byte) (v >>> 16);
            buf[pos++] = (byte) (v >>> 8);
            buf[pos++] = (byte) v;
        }

        void putDouble(double v) {
            putLong(Double.doubleToRawLongBits(v));
        }

        void putVarLong(long v) {
            ensure(10);
            while ((v & ~0x7FL) != 0) {
                buf[pos++] = (byte) ((v & 0x7F) | 0x80);
                v >>>= 7;
            }
            buf[pos++] = (byte) v;
        }

        /**
         * A double: a whole number below 2^52 (but -0) as a variable-length integer shifted left by
         * one, anything else as a 1 and its 8 bytes.
         */
        void putNumber(double v) {
            if (v == Math.rint(v)
                    && Math.abs(v) < 0x1p52
                    && Double.doubleToRawLongBits(v) != Long.MIN_VALUE) {
                putVarLong(zigzag((long) v) << 1);
            } else {
                ensure(9);
                buf[pos++] = 1;
                putDouble(v);
            }
        }

        void putValue(Object v) {
            ensure(1);
            if (v == KeyState.EXCLUDED) {
                buf[pos++] = EXCLUDED;
            } else if (v == null) {
                buf[pos++] = NULL;
            } else if (v instanceof String str) {
                buf[pos++] = STRING;
                byte[] b = str.getBytes(StandardCharsets.UTF_8);
                putVarLong(b.length);
                ensure(b.length);
                System.arraycopy(b, 0, buf, pos, b.length);
                pos += b.length;
            } else if (v instanceof Long l) {
                buf[pos++] = LONG;
                putVarLong(zigzag(l));
            } else if (v instanceof Double d) {
                buf[pos++] = DOUBLE;
                putDouble(d);
            } else if (v instanceof Boolean b) {
                buf[pos++] = b ? TRUE : FALSE;
            } else {
                throw new IllegalArgumentException(
                        "cannot keep a " + v.getClass() + " in key state");
            }
        }
    }

    /** Reads what {@link Out} wrote; any inconsistency throws. */
    private static final class In {
        final byte[] buf;
        int pos;

        In(byte[] buf) {
            this.buf = buf;
        }

        byte get() {
            return buf[pos++];
        }

        long getLong() {
            long v = 0;
            for (int i = 0; i < 8; i++) {
                v = (v << 8) | (buf[pos++] & 0xFF);
            }
            return v;
        }

        int getInt() {
            return ((buf[pos++] & 0xFF) << 24)
                    | ((buf[pos++] & 0xFF) << 16)
                    | ((buf[pos++] & 0xFF) << 8)
                    | (buf[pos++] & 0xFF);
        }

        double getDouble() {
            return Double.longBitsToDouble(getLong());
        }

        long getVarLong() {
            long v = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                byte b = buf[pos++];
                v |= (long) (b & 0x7F) << shift;
                if (b >= 0) {
                    return v;
                }
            }
            throw new IllegalStateException("a variable-length number longer than 10 bytes");
        }

        /** A count of things that follow: at most what the remaining bytes could hold. */
        int getCount() {
            long v = getVarLong();
            if (v < 0 || v > buf.length - pos) {
                throw new IllegalStateException(
                        "a count of " + v + " with " + (buf.length - pos) + " bytes left");
            }
            return (int) v;
        }

        double getNumber() {
            long v = getVarLong();
            if (v == 1) {
                return getDouble();
            }
            if ((v & 1) != 0) {
                throw new IllegalStateException("a number tagged " + v);
            }
            return unzigzag(v >>> 1);
        }

        Object getValue() {
            byte tag = get();
            switch (tag) {
                case EXCLUDED:
                    return KeyState.EXCLUDED;
                case NULL:
                    return null;
                case STRING:
                    int length = getCount();
                    String s = new String(buf, pos, length, StandardCharsets.UTF_8);
                    pos += length;
                    return s;
                case LONG:
                    return unzigzag(getVarLong());
                case DOUBLE:
                    return getDouble();
                case TRUE:
                    return Boolean.TRUE;
                case FALSE:
                    return Boolean.FALSE;
                default:
                    throw new IllegalStateException("unknown value tag " + tag);
            }
        }
    }
}
