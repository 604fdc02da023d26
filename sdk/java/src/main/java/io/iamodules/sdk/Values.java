package io.iamodules.sdk;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.ListValue;
import com.google.protobuf.NullValue;
import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.protobuf.util.JsonFormat;
import ia.pipeline.v1.PipelineOuterClass.Pipeline;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Conversions between the contracts' JSON-like types and plain Java values. */
public final class Values {
  private Values() {}

  /**
   * A map of JSON-like values (null, Boolean, Number, String, List, Map) as a
   * {@code google.protobuf.Struct}.
   *
   * @throws IllegalArgumentException for any other kind of value
   */
  public static Struct toStruct(Map<String, ?> values) {
    Struct.Builder struct = Struct.newBuilder();
    if (values != null) {
      values.forEach((key, value) -> struct.putFields(key, toValue(value)));
    }
    return struct.build();
  }

  /** A {@code Struct} as a map; numbers come back as Double, or Long when whole. */
  public static Map<String, Object> fromStruct(Struct struct) {
    Map<String, Object> map = new LinkedHashMap<>();
    struct.getFieldsMap().forEach((key, value) -> map.put(key, fromValue(value)));
    return map;
  }

  /**
   * A definition in the canonical JSON form (proto3 JSON of {@code ia.pipeline.v1.Pipeline}).
   * Older dialects are normalized by the registry: see {@code ImportPipelines}.
   *
   * @throws IllegalArgumentException if the text is not such a definition
   */
  public static Pipeline pipelineFromJson(String json) {
    Pipeline.Builder pipeline = Pipeline.newBuilder();
    try {
      JsonFormat.parser().merge(json, pipeline);
    } catch (InvalidProtocolBufferException error) {
      throw new IllegalArgumentException("not a canonical pipeline definition: " + error.getMessage(), error);
    }
    return pipeline.build();
  }

  static Value toValue(Object value) {
    if (value == null) {
      return Value.newBuilder().setNullValue(NullValue.NULL_VALUE).build();
    }
    if (value instanceof Boolean b) {
      return Value.newBuilder().setBoolValue(b).build();
    }
    if (value instanceof Number n) {
      return Value.newBuilder().setNumberValue(n.doubleValue()).build();
    }
    if (value instanceof CharSequence s) {
      return Value.newBuilder().setStringValue(s.toString()).build();
    }
    if (value instanceof Map<?, ?> m) {
      Struct.Builder struct = Struct.newBuilder();
      m.forEach((key, item) -> struct.putFields(String.valueOf(key), toValue(item)));
      return Value.newBuilder().setStructValue(struct).build();
    }
    if (value instanceof Iterable<?> items) {
      ListValue.Builder list = ListValue.newBuilder();
      items.forEach(item -> list.addValues(toValue(item)));
      return Value.newBuilder().setListValue(list).build();
    }
    throw new IllegalArgumentException("not a JSON value: " + value.getClass().getName());
  }

  static Object fromValue(Value value) {
    switch (value.getKindCase()) {
      case BOOL_VALUE:
        return value.getBoolValue();
      case NUMBER_VALUE:
        double number = value.getNumberValue();
        boolean whole = number == Math.rint(number) && Math.abs(number) < 0x1p53;
        return whole ? (Object) (long) number : (Object) number;
      case STRING_VALUE:
        return value.getStringValue();
      case STRUCT_VALUE:
        return fromStruct(value.getStructValue());
      case LIST_VALUE:
        List<Object> list = new ArrayList<>();
        value.getListValue().getValuesList().forEach(item -> list.add(fromValue(item)));
        return list;
      default:
        return null;
    }
  }
}
