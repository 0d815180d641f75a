package dev.streamscore.pipeline.features;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * {@link KeyState} to bytes and back, for keyed state: a version byte, the fingerprint of the
 * aggregates it was written for, then the state's numbers and values. State written for other
 * aggregates (the file's aggregates changed between two runs) reads as {@code null}: that key
 * starts afresh rather than reading one aggregate's values as another's.
 */
public final class KeyStateCodec implements Serializable {

    private static final long serialVersionUID = 1L;
    private static final byte VERSION = 1;

    private static final byte EXCLUDED = 0;
    private static final byte NULL = 1;
    private static final byte STRING = 2;
    private static final byte LONG = 3;
    private static final byte DOUBLE = 4;
    private static final byte TRUE = 5;
    private static final byte FALSE = 6;

    private final boolean[] numeric;
    private final long fingerprint;

    /**
     * @param layout one line per aggregate that says all of it (name, kind, expressions, window):
     *     the state's fingerprint
     */
    public KeyStateCodec(List<Aggregate.Kind> kinds, List<String> layout) {
        numeric = new boolean[kinds.size()];
        for (int a = 0; a < numeric.length; a++) {
            numeric[a] = kinds.get(a).numeric();
        }
        long h = 1125899906842597L;
        for (String line : layout) {
            h = 31 * h + KeyState.idHash(line);
        }
        fingerprint = h;
    }

    public byte[] encode(KeyState s) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 + s.size * 16);
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeByte(VERSION);
            out.writeLong(fingerprint);
            out.writeLong(s.received);
            out.writeLong(s.newest);
            out.writeLong(s.evictedUntil);
            int n = numeric.length;
            for (int a = 0; a < n; a++) {
                out.writeDouble(s.runCount[a]);
                out.writeDouble(s.runSum[a]);
                out.writeDouble(s.runMean[a]);
                out.writeDouble(s.evNum[a]);
                out.writeLong(s.evTime[a]);
                writeValue(out, s.evObj[a]);
                Set<Object> distinct = s.evDistinct[a];
                out.writeInt(distinct == null ? 0 : distinct.size());
                if (distinct != null) {
                    for (Object v : distinct) {
                        writeValue(out, v);
                    }
                }
            }
            out.writeInt(s.size);
            for (int i = 0; i < s.size; i++) {
                out.writeLong(s.times[i]);
            }
            for (int a = 0; a < n; a++) {
                for (int i = 0; i < s.size; i++) {
                    if (numeric[a]) {
                        out.writeDouble(s.num[a][i]);
                    } else {
                        writeValue(out, s.obj[a][i]);
                    }
                }
            }
            out.writeInt(s.seenSize);
            for (int i = 0; i < s.seenSize; i++) {
                out.writeLong(s.seenIds[i]);
                out.writeLong(s.seenTimes[i]);
                float[] f = s.seenFeatures[i];
                out.writeInt(f.length);
                for (float v : f) {
                    out.writeFloat(v);
                }
            }
            out.writeLong(s.spilledUntil);
            out.flush();
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException("cannot happen: writing to memory", e);
        }
    }

    /** The state in {@code bytes}, or {@code null} if they were written for other aggregates. */
    public KeyState decode(byte[] bytes) {
        try {
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes));
            if (in.readByte() != VERSION || in.readLong() != fingerprint) {
                return null;
            }
            int n = numeric.length;
            KeyState s = new KeyState(n);
            s.received = in.readLong();
            s.newest = in.readLong();
            s.evictedUntil = in.readLong();
            for (int a = 0; a < n; a++) {
                s.runCount[a] = in.readDouble();
                s.runSum[a] = in.readDouble();
                s.runMean[a] = in.readDouble();
                s.evNum[a] = in.readDouble();
                s.evTime[a] = in.readLong();
                s.evObj[a] = readValue(in);
                int d = in.readInt();
                if (d > 0) {
                    Set<Object> set = new HashSet<>();
                    for (int i = 0; i < d; i++) {
                        set.add(readValue(in));
                    }
                    s.evDistinct[a] = set;
                }
            }
            int size = in.readInt();
            int capacity = Math.max(4, size);
            s.size = size;
            s.times = new long[capacity];
            for (int i = 0; i < size; i++) {
                s.times[i] = in.readLong();
            }
            for (int a = 0; a < n; a++) {
                if (numeric[a]) {
                    s.num[a] = new double[capacity];
                    for (int i = 0; i < size; i++) {
                        s.num[a][i] = in.readDouble();
                    }
                } else {
                    s.obj[a] = new Object[capacity];
                    for (int i = 0; i < size; i++) {
                        s.obj[a][i] = readValue(in);
                    }
                }
            }
            int seen = in.readInt();
            int seenCapacity = Math.max(2, seen);
            s.seenSize = seen;
            s.seenIds = new long[seenCapacity];
            s.seenTimes = new long[seenCapacity];
            s.seenFeatures = new float[seenCapacity][];
            for (int i = 0; i < seen; i++) {
                s.seenIds[i] = in.readLong();
                s.seenTimes[i] = in.readLong();
                float[] f = new float[in.readInt()];
                for (int k = 0; k < f.length; k++) {
                    f[k] = in.readFloat();
                }
                s.seenFeatures[i] = f;
            }
            s.spilledUntil = in.readLong();
            return s;
        } catch (IOException e) {
            throw new IllegalStateException(
                    "key state of " + bytes.length + " bytes is corrupt", e);
        }
    }

    private static void writeValue(DataOutputStream out, Object v) throws IOException {
        if (v == KeyState.EXCLUDED) {
            out.writeByte(EXCLUDED);
        } else if (v == null) {
            out.writeByte(NULL);
        } else if (v instanceof String str) {
            out.writeByte(STRING);
            byte[] b = str.getBytes(StandardCharsets.UTF_8);
            out.writeInt(b.length);
            out.write(b);
        } else if (v instanceof Long l) {
            out.writeByte(LONG);
            out.writeLong(l);
        } else if (v instanceof Double d) {
            out.writeByte(DOUBLE);
            out.writeDouble(d);
        } else if (v instanceof Boolean b) {
            out.writeByte(b ? TRUE : FALSE);
        } else {
            throw new IllegalArgumentException("cannot keep a " + v.getClass() + " in key state");
        }
    }

    private static Object readValue(DataInputStream in) throws IOException {
        byte tag = in.readByte();
        switch (tag) {
            case EXCLUDED:
                return KeyState.EXCLUDED;
            case NULL:
                return null;
            case STRING:
                byte[] b = new byte[in.readInt()];
                in.readFully(b);
                return new String(b, StandardCharsets.UTF_8);
            case LONG:
                return in.readLong();
            case DOUBLE:
                return in.readDouble();
            case TRUE:
                return Boolean.TRUE;
            case FALSE:
                return Boolean.FALSE;
            default:
                throw new IOException("unknown value tag " + tag);
        }
    }
}
