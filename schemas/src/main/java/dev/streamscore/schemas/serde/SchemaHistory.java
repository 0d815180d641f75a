package dev.streamscore.schemas.serde;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.Schema;

/**
 * Every published version of a record schema, read from the {@code schemas/history/<Name>/vN.avsc}
 * files that are packaged on the classpath under {@code streamscore/schema-history/}.
 *
 * <p>Versions are numbered from 1 without gaps; a reader registers all of them so that data written
 * by any earlier producer can still be decoded. Usage:
 *
 * <pre>{@code
 * List<Schema> writers = SchemaHistory.versionsOf("Transaction");
 * }</pre>
 */
public final class SchemaHistory {

    private static final String ROOT = "streamscore/schema-history/";

    private SchemaHistory() {}

    /** All versions of the named record, oldest first; fails if the history holds none. */
    public static List<Schema> versionsOf(String recordName) {
        List<Schema> versions = new ArrayList<>();
        ClassLoader loader = SchemaHistory.class.getClassLoader();
        for (int v = 1; ; v++) {
            String path = ROOT + recordName + "/v" + v + ".avsc";
            try (InputStream in = loader.getResourceAsStream(path)) {
                if (in == null) {
                    break;
                }
                versions.add(new Schema.Parser().parse(readAll(in)));
            } catch (IOException e) {
                throw new IllegalStateException("cannot read schema history file " + path, e);
            }
        }
        if (versions.isEmpty()) {
            throw new IllegalStateException(
                    "no schema history for record '"
                            + recordName
                            + "': expected "
                            + ROOT
                            + recordName
                            + "/v1.avsc on the classpath");
        }
        return versions;
    }

    private static String readAll(InputStream in) throws IOException {
        StringBuilder out = new StringBuilder();
        try (BufferedReader reader =
                new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            char[] buf = new char[4096];
            for (int n; (n = reader.read(buf)) > 0; ) {
                out.append(buf, 0, n);
            }
        }
        return out.toString();
    }
}
