using Google.Protobuf.Collections;
using Qdrant.Client.Grpc;
using Retro.Core;

namespace Retro.VectorStore.Qdrant;

/// <summary>
/// A chunk's and a checkpoint's point payload: every field of <see cref="Chunk"/> but the id and vector, in snake_case
/// (the same keys the REST client wrote, so collections written before gRPC read back unchanged; <c>title</c> is
/// absent from those and reads as "").
/// </summary>
internal static class QdrantPayload
{
    public const string DocumentId = "document_id";
    public const string Url = "url";
    public const string Ordinal = "ordinal";
    public const string Title = "title";
    public const string Text = "text";
    public const string Tokens = "tokens";
    public const string ContinuationText = "continuation_text";
    public const string ContinuationTokens = "continuation_tokens";
    public const string Metadata = "metadata";

    /// <summary>Writes <paramref name="chunk"/>'s fields into <paramref name="payload"/>.</summary>
    public static void Write(Chunk chunk, MapField<string, Value> payload)
    {
        payload[DocumentId] = chunk.DocumentId;
        payload[Url] = chunk.Url;
        payload[Ordinal] = chunk.Ordinal;
        payload[Title] = chunk.Title;
        payload[Text] = chunk.Text;
        payload[Tokens] = Integers(chunk.Tokens);
        payload[ContinuationText] = chunk.ContinuationText;
        payload[ContinuationTokens] = Integers(chunk.ContinuationTokens);
        var metadata = new Struct();
        foreach (var (key, value) in chunk.Metadata) metadata.Fields[key] = value;
        payload[Metadata] = new Value { StructValue = metadata };
    }

    /// <summary>The chunk <paramref name="id"/> stored in <paramref name="payload"/>.</summary>
    /// <exception cref="InvalidDataException">The payload was not written by Retro.</exception>
    public static Chunk Read(ChunkId id, MapField<string, Value> payload, string collection)
    {
        if (payload.Count == 0)
            throw new InvalidDataException($"Point {id} of Qdrant collection '{collection}' has no payload; it was not written by Retro.");
        var reader = new Reader(payload, $"Point {id} of Qdrant collection '{collection}'", "a Retro chunk");
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in reader.Object(Metadata).Fields)
            metadata[key] = value.KindCase == Value.KindOneofCase.StringValue ? value.StringValue : throw reader.Wrong($"{Metadata}.{key}");
        return new Chunk(id, reader.String(DocumentId), reader.String(Url), (int)reader.Integer(Ordinal), reader.String(Text), reader.Integers(Tokens),
            reader.String(ContinuationText), reader.Integers(ContinuationTokens), metadata)
        {
            Title = reader.OptionalString(Title) ?? "",
        };
    }

    private static Value Integers(int[] values)
    {
        var list = new ListValue();
        foreach (int v in values) list.Values.Add(new Value { IntegerValue = v });
        return new Value { ListValue = list };
    }

    /// <summary>Typed reads of payload fields; a missing or mistyped field is an <see cref="InvalidDataException"/>.</summary>
    internal readonly struct Reader(MapField<string, Value> payload, string what, string expected)
    {
        public string String(string key) => OptionalString(key) ?? throw Wrong(key);

        public string? OptionalString(string key)
        {
            if (!payload.TryGetValue(key, out var value)) return null;
            return value.KindCase == Value.KindOneofCase.StringValue ? value.StringValue : throw Wrong(key);
        }

        public long Integer(string key)
        {
            if (payload.TryGetValue(key, out var value) && AsInteger(value) is { } n) return n;
            throw Wrong(key);
        }

        public bool Boolean(string key)
        {
            if (payload.TryGetValue(key, out var value) && value.KindCase == Value.KindOneofCase.BoolValue) return value.BoolValue;
            throw Wrong(key);
        }

        public int[] Integers(string key)
        {
            if (!payload.TryGetValue(key, out var value) || value.KindCase != Value.KindOneofCase.ListValue) throw Wrong(key);
            var list = value.ListValue.Values;
            var result = new int[list.Count];
            for (int i = 0; i < result.Length; i++)
                result[i] = AsInteger(list[i]) is { } n && n is >= int.MinValue and <= int.MaxValue ? (int)n : throw Wrong(key);
            return result;
        }

        public Struct Object(string key)
        {
            if (payload.TryGetValue(key, out var value) && value.KindCase == Value.KindOneofCase.StructValue) return value.StructValue;
            throw Wrong(key);
        }

        public InvalidDataException Wrong(string key) => new($"{what} has a payload that is not {expected}: field '{key}' is missing or of the wrong type.");

        // JSON numbers may come back as doubles (e.g. written by another client): whole ones count as integers.
        private static long? AsInteger(Value value) => value.KindCase switch
        {
            Value.KindOneofCase.IntegerValue => value.IntegerValue,
            Value.KindOneofCase.DoubleValue when value.DoubleValue == Math.Floor(value.DoubleValue) && Math.Abs(value.DoubleValue) < 9e15 => (long)value.DoubleValue,
            _ => null,
        };
    }
}
