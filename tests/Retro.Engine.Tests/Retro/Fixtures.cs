namespace Retro.Engine.Tests.Retro;

/// <summary>Finds tests/fixtures from the test binary's folder.</summary>
internal static class Fixtures
{
    /// <summary>Absolute path of tests/fixtures/<paramref name="name"/>.</summary>
    public static string Folder(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "fixtures", name);
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException($"tests/fixtures/{name} not found above {AppContext.BaseDirectory}; regenerate with /usr/bin/python3 src/training/fixtures.py");
    }
}
