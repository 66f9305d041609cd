using System.Buffers.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Retro.VectorStore.Qdrant.Rest;

/// <summary>
/// Qdrant's <c>ExtendedPointId</c>: an unsigned 64-bit integer or a UUID. Retro writes UUIDs only, but reads both.
/// </summary>
[JsonConverter(typeof(PointIdConverter))]
public readonly record struct PointId
{
    private PointId(ulong number, Guid uuid, bool isUuid)
    {
        Number = number;
        Uuid = uuid;
        IsUuid = isUuid;
    }

    /// <summary>The numeric id; 0 when <see cref="IsUuid"/>.</summary>
    public ulong Number { get; }

    /// <summary>The UUID id; <see cref="Guid.Empty"/> when not <see cref="IsUuid"/>.</summary>
    public Guid Uuid { get; }

    /// <summary>True for a UUID id, false for a numeric one.</summary>
    public bool IsUuid { get; }

    /// <summary>A numeric point id.</summary>
    public static PointId FromNumber(ulong number) => new(number, Guid.Empty, isUuid: false);

    /// <summary>A UUID point id.</summary>
    public static PointId FromUuid(Guid uuid) => new(0, uuid, isUuid: true);

    /// <summary>The id as Qdrant writes it: digits, or the lower-case 8-4-4-4-12 UUID form.</summary>
    public override string ToString() => IsUuid ? Uuid.ToString("D") : Number.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>Reads a JSON number or UUID string as <see cref="PointId"/>; writes it back the same way.</summary>
public sealed class PointIdConverter : JsonConverter<PointId>
{
    /// <inheritdoc />
    public override PointId Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Number when reader.TryGetUInt64(out ulong number):
                return PointId.FromNumber(number);
            case JsonTokenType.String when reader.TryGetGuid(out Guid uuid):
                return PointId.FromUuid(uuid);
            case JsonTokenType.String when Guid.TryParse(reader.GetString(), out Guid parsed):
                return PointId.FromUuid(parsed);
            default:
                throw new JsonException($"A point id must be an unsigned integer or a UUID string, not {reader.TokenType}.");
        }
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, PointId value, JsonSerializerOptions options)
    {
        if (value.IsUuid)
        {
            Span<byte> utf8 = stackalloc byte[36];
            Utf8Formatter.TryFormat(value.Uuid, utf8, out int written, 'D');
            writer.WriteStringValue(utf8[..written]);
        }
        else
        {
            writer.WriteNumberValue(value.Number);
        }
    }
}
