using System.Diagnostics;

namespace Retro.Benchmarks.Engine;

/// <summary>The ONNX Runtime peer's export: src/training/export_onnx.py on a model folder the suite wrote (FOLDER/onnx).</summary>
internal static class OnnxPeer
{
    /// <summary>Exports <paramref name="folder"/> with Debian's python (torch); prints how long it took.</summary>
    public static void Export(string folder)
    {
        string root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Retro.sln"))) root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("no Retro.sln above the benchmark");
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(root, "src", "training", "export_onnx.py"));
        psi.ArgumentList.Add(folder);
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start /usr/bin/python3");
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"export_onnx.py {folder} failed ({p.ExitCode}): {stderr.Result}");
        Console.WriteLine($"  exported {folder} to ONNX in {sw.Elapsed.TotalSeconds:F1} s (src/training/export_onnx.py)");
    }
}
