package dev.streamscore.pipeline.events;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;
import org.junit.jupiter.api.Test;

/** The json input format: fields by the reader schema's names, nothing coerced or guessed. */
class JsonEventsTest {

    static final Schema SCHEMA =
            new Schema.Parser()
                    .parse(
                            """
{"type": "record", "name": "E", "fields": [
  {"name": "id", "type": "string"},
  {"name": "n", "type": "long"},
  {"name": "i", "type": "int", "default": 7},
  {"name": "x", "type": "double"},
  {"name": "kind", "type": {"type": "enum", "name": "K", "symbols": ["A", "B"]}},
  {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
  {"name": "note", "type": ["null", "string"], "default": null}
]}\
""");

    static GenericRecord decode(String json) throws DecodeException {
        return new JsonEvents(SCHEMA).decode(json.getBytes(StandardCharsets.UTF_8));
    }

    static final String VALID =
            "{\"id\": \"e1\", \"n\": 12, \"x\": 1.5, \"kind\": \"B\", \"at\": 1700000000000,"
                    + " \"extra\": [1, 2]}";

    @Test
    void readsFieldsByNameIgnoresOthersAndTakesDefaults() throws Exception {
        GenericRecord r = decode(VALID);
        assertThat(r.get("id")).isEqualTo("e1");
        assertThat(r.get("n")).isEqualTo(12L);
        assertThat(r.get("i")).isEqualTo(7);
        assertThat(r.get("x")).isEqualTo(1.5);
        assertThat(r.get("kind").toString()).isEqualTo("B");
        assertThat(r.get("at")).isEqualTo(1700000000000L);
        assertThat(r.get("note")).isNull();
        assertThat(decode(VALID.replace("}", ", \"x\": 2}").replace("\"x\": 1.5, ", "")).get("x"))
                .isEqualTo(2.0);
    }

    @Test
    void refusesWhatIsNotExactlyOneEventOfTheSchema() {
        String[][] cases = {
            {"", "empty"},
            {"[1]", "expected a JSON object"},
            {"{\"id\": \"e1\"", "not JSON"},
            {VALID + " garbage", "not JSON"},
            {VALID + " {}", "not JSON"},
            {VALID.replace("\"n\": 12", "\"n\": 12, \"n\": 13"), "Duplicate field"},
            {VALID.replace("\"n\": 12, ", ""), "n: missing"},
            {VALID.replace("\"n\": 12", "\"n\": \"12\""), "n: expected a whole number"},
            {VALID.replace("\"n\": 12", "\"n\": 1.5"), "n: expected a whole number"},
            {
                VALID.replace("\"n\": 12", "\"n\": 99999999999999999999"),
                "n: expected a whole number"
            },
            {
                VALID.replace("\"x\": 1.5", "\"x\": 1.5, \"i\": 3000000000"),
                "i: expected a whole number of 32 bits"
            },
            {VALID.replace("\"B\"", "\"C\""), "kind: expected one of [A, B]"},
            {VALID.replace("\"e1\"", "null"), "id: expected a string, found null"},
            {VALID.replace("\"e1\"", "\"a\\ud800\""), "unpaired UTF-16 surrogate"},
        };
        for (String[] c : cases) {
            assertThatThrownBy(() -> decode(c[0]))
                    .as(c[0])
                    .isInstanceOf(DecodeException.class)
                    .hasMessageContaining(c[1]);
        }
    }
}
