using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Retro.Eval.Running;

/// <summary>
/// Finished parts on disk: <c>{output}/parts/{key}.json</c>, written atomically (temp file + rename) so an interrupted
/// run leaves either the whole part or nothing.
/// </summary>
internal sealed class PartCache(string folder)
{
    /// <summary>The cache key of a part: SHA-256 over its canonical description (first 24 hex digits).</summary>
    public static string KeyOf(params object?[] parts)
    {
        var text = JsonSerializer.Serialize(parts, EvalConfig.Json);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..24];
    }

    /// <summary>The cached part with this key, or null.</summary>
    public PartResult? TryGet(string key)
    {
        string path = PathOf(key);
        if (!File.Exists(path)) return null;
        try { return JsonSerializer.Deserialize<PartResult>(File.ReadAllText(path), EvalConfig.Json); }
        catch (JsonException) { return null; } // a foreign or damaged file: recompute and overwrite
    }

    /// <summary>Stores a finished part.</summary>
    public void Put(PartResult part)
    {
        Directory.CreateDirectory(folder);
        string path = PathOf(part.Key), temp = path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(part, EvalConfig.Json));
        File.Move(temp, path, overwrite: true);
    }

    private string PathOf(string key) => Path.Combine(folder, key + ".json");
}
