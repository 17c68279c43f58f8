// Local declaration for the small part of dcmjs we use: its data dictionary (dcmjs ships no types).
declare module 'dcmjs' {
  export interface DictionaryEntry {
    tag: string;
    vr: string;
    vm: string;
    name: string;
    version: string;
  }
  export const data: {
    DicomMetaDictionary: {
      dictionary: Record<string, DictionaryEntry | undefined>;
      nameMap: Record<string, DictionaryEntry | undefined>;
      sopClassNamesByUID: Record<string, string | undefined>;
    };
  };
  const dcmjs: { data: typeof data };
  export default dcmjs;
}
