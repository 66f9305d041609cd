using System.Text;
using System.Text.Json;

namespace Retro.Engine.Tests.Support;

/// <summary>Writes safetensors files for tests, including deliberately broken ones.</summary>
internal sealed class SafetensorsWriter
{
    private readonly List<(string Name, string DType, int[] Shape, byte[] Data)> _tensors = [];

    public Dictionary<string, string> Metadata { get; } = [];

    public SafetensorsWriter Add(string name, string dtype, int[] shape, byte[] data)
    {
        _tensors.Add((name, dtype, shape, data));
        return this;
    }

    public SafetensorsWriter AddF32(string name, int[] shape, float[] values)
    {
        var bytes = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        return Add(name, "F32", shape, bytes);
    }

    /// <summary>The header JSON the writer would produce, with consecutive offsets.</summary>
    public string HeaderJson()
    {
        var header = new Dictionary<string, object>();
        if (Metadata.Count > 0) header["__metadata__"] = Metadata;
        long offset = 0;
        foreach (var t in _tensors)
        {
            header[t.Name] = new { dtype = t.DType, shape = t.Shape, data_offsets = new[] { offset, offset + t.Data.Length } };
            offset += t.Data.Length;
        }
        return JsonSerializer.Serialize(header);
    }

    public byte[] ToBytes(string? headerOverride = null)
    {
        var header = Encoding.UTF8.GetBytes(headerOverride ?? HeaderJson());
        using var stream = new MemoryStream();
        stream.Write(BitConverter.GetBytes((long)header.Length));
        stream.Write(header);
        foreach (var t in _tensors) stream.Write(t.Data);
        return stream.ToArray();
    }

    public void Write(string path, string? headerOverride = null) => File.WriteAllBytes(path, ToBytes(headerOverride));
}

/// <summary>A temporary directory deleted on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "retro-engine-tests-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}
