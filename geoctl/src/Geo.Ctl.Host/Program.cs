using Geo.Ctl;

return await GeoCtlCommand.Create(Console.Out, Console.Error).Parse(args).InvokeAsync();
