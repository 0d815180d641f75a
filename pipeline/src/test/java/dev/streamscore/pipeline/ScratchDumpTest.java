package dev.streamscore.pipeline;

import dev.streamscore.pipeline.expr.*;
import java.nio.file.*;
import org.junit.jupiter.api.Test;

class ScratchDumpTest {
    @Test
    void dump() throws Exception {
        Variables v = new Variables();
        v.add("a", ValueType.INT, false);
        Expressions ex = new Expressions(v);
        StringBuilder out = new StringBuilder();
        for (int rep = 0; rep < 2; rep++)
            for (String wrap :
                    new String[] {
                        "(%s)",
                        "-%s",
                        "!%s",
                        "double(%s)",
                        "[%s]",
                        "%s + 1",
                        "1.0 * %s",
                        "%s ? 1 : 0",
                        "{1: %s}"
                    }) {
                for (int n : new int[] {10, 50, 100, 300}) {
                    String e = wrap.startsWith("!") ? "true" : "1";
                    for (int k = 0; k < n; k++) e = String.format(wrap, e);
                    long t0 = System.nanoTime();
                    String r;
                    try {
                        r = String.valueOf(ex.check(e).error());
                    } catch (Throwable t) {
                        r = "THROW " + t;
                    }
                    out.append(
                            wrap
                                    + " n="
                                    + n
                                    + " "
                                    + (System.nanoTime() - t0) / 1000
                                    + " us "
                                    + (r.length() > 100 ? r.substring(0, 100) : r)
                                    + "\n");
                }
            }
        String[] soups = {
            "( ( ( ( ( ( ( ( ( ( ( ( ( (",
            "1 + + + + + + + + + + + + + +",
            "} } } } } } } } } } } } } } }",
            "\"\"\"x",
            "size size size size size size size size"
        };
        for (String s : soups) {
            long t0 = System.nanoTime();
            String r = String.valueOf(ex.check(s).error());
            out.append(
                    s
                            + " "
                            + (System.nanoTime() - t0) / 1000
                            + " us "
                            + (r.length() > 100 ? r.substring(0, 100) : r)
                            + "\n");
        }
        Files.writeString(Path.of("/tmp/scratch/dump.txt"), out.toString());
    }
}
