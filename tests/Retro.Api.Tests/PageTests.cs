using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Retro.Api.Tests;

/// <summary>A fact that needs Debian's chromium: skipped (never passed) when <c>/usr/bin/chromium</c> is absent.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public const string Executable = "/usr/bin/chromium";

    public ChromiumFactAttribute()
    {
        if (!File.Exists(Executable)) Skip = $"{Executable} is missing (apt-get install -y chromium): the page cannot be driven in a browser";
    }
}

public sealed class PageTests : IDisposable
{
    private readonly RetroApiFactory _factory = new();

    public void Dispose() => _factory.Dispose();

    [ChromiumFact]
    public async Task Asking_on_the_page_streams_the_answer_and_shows_its_neighbours()
    {
        _factory.UseKestrel(0);
        _factory.StartServer();
        string address = _factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumFactAttribute.Executable,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        var page = await browser.NewPageAsync();
        await page.GotoAsync(address + "/");

        await page.FillAsync("#question", "Where is the Eiffel Tower?");
        await page.FillAsync("#maxTokens", "12");
        await page.ClickAsync("#ask");
        await page.WaitForSelectorAsync("#status:text('Done.')");

        string answer = await page.InnerTextAsync("#answer");
        answer.Trim().Length.ShouldBe(12);
        (await page.Locator(".chunk").CountAsync()).ShouldBeGreaterThan(0);
        var neighbours = page.Locator(".neighbour");
        (await neighbours.CountAsync()).ShouldBeGreaterThan(0);
        (await page.InnerTextAsync(".chunk:has(.neighbour) .neighbour .text")).ShouldContain("Eiffel Tower");
        (await page.InnerTextAsync("#meta")).ShouldContain("scripted@test");
    }
}
