; UNTESTED: written for a Windows build of LCI Studio; nothing here has been built or run
; (the project's machines are Linux). Inno Setup 6 script for a PyInstaller one-folder build made
; on Windows with packaging/lci-studio.spec (dist\lci-studio\). Registers .lci with the app.
#define AppVersion "0.1.0"

[Setup]
AppId={{6B1C6F0E-3F55-4C4B-9D1E-4C4953545544}
AppName=LCI Studio
AppVersion={#AppVersion}
AppPublisher=The LCI Studio developers
DefaultDirName={autopf}\LCI Studio
DefaultGroupName=LCI Studio
OutputBaseFilename=lci-studio-{#AppVersion}-windows-x64-setup
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
Compression=lzma2/max
SolidCompression=yes
ChangesAssociations=yes
PrivilegesRequiredOverridesAllowed=dialog

[Files]
Source: "..\dist\lci-studio\*"; DestDir: "{app}"; Flags: recursesubdirs ignoreversion

[Icons]
Name: "{group}\LCI Studio"; Filename: "{app}\lci-studio.exe"
Name: "{group}\Uninstall LCI Studio"; Filename: "{uninstallexe}"

[Registry]
Root: HKA; Subkey: "Software\Classes\.lci"; ValueType: string; ValueName: ""; ValueData: "LCIStudio.lci"; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\LCIStudio.lci"; ValueType: string; ValueName: ""; ValueData: "LCI Studio compressed image"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\LCIStudio.lci\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\lci-studio.exe,0"
Root: HKA; Subkey: "Software\Classes\LCIStudio.lci\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\lci-studio.exe"" ""%1"""

[Run]
Filename: "{app}\lci-studio.exe"; Description: "Start LCI Studio"; Flags: nowait postinstall skipifsilent
