using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Retro.Engine.Checkpoints;

namespace Retro.Engine.Tests.Retro;

/// <summary>Rewrites a safetensors file with every float tensor stored as F16 (for the half-precision parity test).</summary>
internal static class F16Writer
{
    public static void Write(string path, SafetensorsFile source)
    {
        var header = new Dictionary<string, object>();
        var blobs = new List<byte[]>();
        long offset = 0;
        foreach (var t in source.Tensors)
        {
            var values = t.ToFloatArray();
            var bytes = new byte[values.Length * 2];
            for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(2 * i), (Half)values[i]);
            header[t.Name] = new Dictionary<string, object> { ["dtype"] = "F16", ["shape"] = t.Shape.ToArray(), ["data_offsets"] = new[] { offset, offset + bytes.Length } };
            offset += bytes.Length;
            blobs.Add(bytes);
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        using var f = File.Create(path);
        var len = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(len, json.Length);
        f.Write(len);
        f.Write(json);
        foreach (var b in blobs) f.Write(b);
    }
}
